"""Process settings from the environment, read once at start-up and passed in.

No other module reads the environment. The Slack token is a secret: it is kept out of `repr`
and never logged.
"""

from __future__ import annotations

import os
import unicodedata
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
    db_path: Path = DEFAULT_DB  # the SQLite file (when db_url is empty)
    db_url: str = field(default="", repr=False)  # a postgresql:// URL (may hold a password)
    slack_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    log_format: str = "text"  # "text" or "json"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8080  # 0 disables the health/metrics endpoint
    lease_seconds: float = 30.0  # PostgreSQL replicas: a dead replica's work is taken over after


def state_target(settings: Settings) -> str:
    """What NEWSBOT_DB names, for `bot.state.open_store`: the URL, or the SQLite file."""
    return settings.db_url or str(settings.db_path)


def state_exists(settings: Settings) -> bool:
    """Is there state to read? (A database server is asked when opened; a file must exist.)"""
    return bool(settings.db_url) or settings.db_path.exists()


def _db(env: Mapping[str, str]) -> tuple[Path, str]:
    """NEWSBOT_DB as (SQLite file, PostgreSQL URL): a path, or a URL the state package takes.
    `mysql://...` and any other URL is refused here (exit 2), never taken for a file name."""
    from bot.state import POSTGRES, engine_for

    raw = env.get("NEWSBOT_DB", "").strip()
    if raw and engine_for(raw) == POSTGRES:
        return DEFAULT_DB, raw
    return Path(raw or DEFAULT_DB), ""


def read_token(env: Mapping[str, str]) -> str | None:
    """SLACK_BOT_TOKEN, else the contents of SLACK_BOT_TOKEN_FILE (container secrets).

    Unset (or an empty SLACK_BOT_TOKEN, which compose passes for an unset `${VAR}`) means no
    token: alerts are printed. A token FILE that is configured but empty, unreadable or not UTF-8
    is an error: printing and marking alerts sent would lose them for Slack. Errors name the
    source, never its contents.
    """
    token = env.get("SLACK_BOT_TOKEN", "")
    if token.strip():
        return _one_line(token, source="SLACK_BOT_TOKEN", file="")
    path = env.get("SLACK_BOT_TOKEN_FILE", "").strip()
    if not path:
        return None

    def refused(problem: str) -> ConfigError:
        return ConfigError(problem, path="SLACK_BOT_TOKEN_FILE", file=path)

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise refused(f"cannot read the token file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise refused(
            "the token file is not UTF-8 text: write the bot token (xoxb-...) in it"
        ) from None
    if not text.strip():
        raise refused(
            "the token file is empty: write the bot token (xoxb-...) in it, or unset "
            "SLACK_BOT_TOKEN_FILE to have alerts printed here"
        )
    return _one_line(text, source="SLACK_BOT_TOKEN_FILE", file=path)


def _one_line(raw: str, *, source: str, file: str) -> str:
    """The token without surrounding whitespace; one with whitespace or control characters
    inside is refused (it would go into an HTTP header, and be printed by the error)."""
    token = raw.strip()
    if any(char.isspace() or unicodedata.category(char)[0] == "C" for char in token):
        raise ConfigError(
            "the token holds whitespace or a control character inside it (a line break?): "
            "it must be one line, like xoxb-...",
            path=source,
            file=file,
        )
    return token


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("NEWSBOT_HTTP_PORT", "8080").strip()
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"must be a port number 0-65535, got {raw!r}", path="NEWSBOT_HTTP_PORT")
    return int(raw)


def _lease_seconds(env: Mapping[str, str]) -> float:
    raw = env.get("NEWSBOT_LEASE_SECONDS", "30").strip() or "30"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 3600:
        raise ConfigError(
            f"must be a number of seconds 1-3600, got {raw!r}", path="NEWSBOT_LEASE_SECONDS"
        )
    return value


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
    db_path, db_url = _db(env)
    return Settings(
        config_path=Path(config or env.get("NEWSBOT_CONFIG", "") or DEFAULT_CONFIG),
        db_path=db_path,
        db_url=db_url,
        slack_token=read_token(env),
        slack_api_url=api_url,
        log_format=_log_format(env),
        log_level=env.get("NEWSBOT_LOG_LEVEL", "INFO").upper(),
        http_host=env.get("NEWSBOT_HTTP_HOST", "127.0.0.1"),
        http_port=_port(env),
        lease_seconds=_lease_seconds(env),
    )
