"""Process settings from the environment, read once at start-up and passed in.

No other module reads the environment. The Slack token is a secret: it is kept out of `repr`
and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_CONFIG = Path("config/newsbot.yaml")
DEFAULT_DB = Path("newsbot.db")


@dataclass(frozen=True, slots=True)
class Settings:
    """Where things are and how to reach Slack. Built by `from_env`."""

    config_path: Path = DEFAULT_CONFIG
    db_path: Path = DEFAULT_DB
    slack_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    log_format: str = "text"  # "text" or "json"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8080  # 0 disables the health/metrics endpoint


def read_token(env: Mapping[str, str]) -> str | None:
    """SLACK_BOT_TOKEN, else the contents of SLACK_BOT_TOKEN_FILE (container secrets)."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if token:
        return token
    path = env.get("SLACK_BOT_TOKEN_FILE", "").strip()
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        # The message names the file, never its contents.
        raise ConfigError(
            f"cannot read the token file: {exc.strerror}", path="SLACK_BOT_TOKEN_FILE", file=path
        ) from None


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("NEWSBOT_HTTP_PORT", "8080").strip()
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"must be a port number 0-65535, got {raw!r}", path="NEWSBOT_HTTP_PORT")
    return int(raw)


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("NEWSBOT_LOG_FORMAT", "text").strip().lower() or "text"
    if value not in ("text", "json"):
        raise ConfigError(f"must be 'text' or 'json', got {value!r}", path="NEWSBOT_LOG_FORMAT")
    return value


def from_env(env: Mapping[str, str] | None = None, *, config: str | None = None) -> Settings:
    """Build the settings; `config` (the --config flag) wins over NEWSBOT_CONFIG."""
    env = os.environ if env is None else env
    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if not api_url.endswith("/"):
        api_url += "/"  # slack_sdk joins base_url and the method name by plain concatenation
    return Settings(
        config_path=Path(config or env.get("NEWSBOT_CONFIG", "") or DEFAULT_CONFIG),
        db_path=Path(env.get("NEWSBOT_DB", "") or DEFAULT_DB),
        slack_token=read_token(env),
        slack_api_url=api_url,
        log_format=_log_format(env),
        log_level=env.get("NEWSBOT_LOG_LEVEL", "INFO").upper(),
        http_host=env.get("NEWSBOT_HTTP_HOST", "127.0.0.1"),
        http_port=_port(env),
    )
