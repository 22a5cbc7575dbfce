"""State: what survives a restart.

Contract: the store owns the database: seen stories, feed validators, the alerts and their
delivery status (the outbox), feedback, and the schema's migrations. Callers get typed values and
units of work (bot/state/interface.py), never rows or connections. `open_store(NEWSBOT_DB)`
picks the engine: a file path is SQLite (bot/state/sqlite.py, the default); a `postgresql://` or
`postgres://` URL is PostgreSQL (bot/state/postgres.py); any other `scheme://` is refused.
Imports `bot.models`, `bot.errors`, the message values of `bot.alerts` and the standard library
only.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.feeds.urls import redact_url

if TYPE_CHECKING:
    from bot.state.interface import Store

SQLITE, POSTGRES = "sqlite", "postgres"
POSTGRES_SCHEMES = ("postgresql", "postgres")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def engine_for(target: str) -> str:
    """Which engine NEWSBOT_DB names: SQLITE for a path, POSTGRES for a postgresql:// URL.

    Raises ConfigError (exit 2) for any other URL, so `mysql://...` is never taken for a file.
    """
    found = _URL.match(target)
    if found is None:
        return SQLITE
    if found.group(1).lower() in POSTGRES_SCHEMES:
        return POSTGRES
    raise ConfigError(
        f"unsupported database URL scheme {found.group(1)!r} in {redact_url(target)!r}: "
        "give a file path (SQLite) or a postgresql://user@host/dbname URL",
        path="NEWSBOT_DB",
    )


def open_store(target: str | Path) -> Store:
    """Open (creating or migrating) the store NEWSBOT_DB names; see `engine_for`."""
    text = str(target)
    if engine_for(text) == SQLITE:
        from bot.state.sqlite import SqliteStore

        return SqliteStore(text)
    try:
        postgres = importlib.import_module("bot.state.postgres")
    except ImportError as exc:
        if exc.name not in ("bot.state.postgres", "psycopg"):
            raise
        why = " (psycopg is not installed)" if exc.name == "psycopg" else ""
        raise ConfigError(
            f"PostgreSQL state ({redact_url(text)}) is not available in this build{why}: "
            "use a file path for SQLite",
            path="NEWSBOT_DB",
        ) from None
    store: Store = postgres.open_store(text)
    return store
