"""Logging set-up: one line per event with stable keys, JSON or human-readable, never a token.

Modules log `log.info("polled", extra={"feed_url": ..., "status": ..., "elapsed_ms": ...})`; the
formatter renders the message as `event` and every extra as a key. A filter scrubs the Slack
token from every record as a last line of defence (it should never get there in the first place).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import quote

from bot.feeds.urls import redact_url

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
REDACTED = "[redacted]"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _when(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        data.update(_extras(record))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = " ".join(f"{key}={_quote(value)}" for key, value in _extras(record).items())
        line = f"{_when(record)} {record.levelname:<7} {record.getMessage()}"
        line = f"{line} {pairs}" if pairs else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text


def secret_renderings(secret: str) -> set[str]:
    """The ways a secret can show up in text: as it is, each piece of it between whitespace or
    control characters (a token broken by a newline), and those escaped (repr, JSON) or
    percent-encoded. Pieces shorter than 8 characters are too common to scrub."""
    forms = {secret, secret.strip()}
    forms |= set(re.split(r"[\s\x00-\x1f\x7f]+", secret))
    for form in list(forms):
        forms.add(repr(form)[1:-1])
        forms.add(json.dumps(form)[1:-1])
        forms.add(quote(form, safe=""))
        forms.add("".join(chr(b) if chr(b).isalnum() else f"%{b:02X}" for b in form.encode()))
    return {form for form in forms if len(form) >= 8}


class RedactFilter(logging.Filter):
    """Replaces every rendering of the secrets (any letter case) in the message and the extras."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        forms = set().union(*(secret_renderings(secret) for secret in secrets if secret))
        longest_first = sorted(forms, key=len, reverse=True)
        self.pattern = (
            re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE) if forms else None
        )

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pattern is None:
            return True
        message = self._scrub(record.getMessage())
        record.msg, record.args = message, None
        for key, value in _extras(record).items():
            if isinstance(value, str):
                setattr(record, key, self._scrub(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
        return True

    def _scrub(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text) if self.pattern is not None else text


class FeedUrlFilter(logging.Filter):
    """Shows a `feed_url` extra redacted (`bot.feeds.urls.redact_url`), whoever logged it:
    credentials in a feed URL never reach a log line, even from a call site that forgot."""

    def filter(self, record: logging.LogRecord) -> bool:
        url = getattr(record, "feed_url", None)
        if isinstance(url, str):
            record.feed_url = redact_url(url)
        return True


def setup_logging(
    fmt: str = "text",
    level: str = "INFO",
    *,
    secrets: list[str] | None = None,
    stream: TextIO | None = None,
) -> None:
    # Our lines show none of where a call was made, nor the thread or process: don't work
    # them out for every record (the logging HOWTO's "Optimization" knobs; a posting run logs
    # a few lines per alert).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(FeedUrlFilter())
    handler.addFilter(RedactFilter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # Third-party chatter (and slack_sdk's request dumps at DEBUG) stays out of our logs.
    for noisy in ("slack_sdk", "apscheduler", "httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
