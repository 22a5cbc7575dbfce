"""NEWSBOT_DB picks the state engine: a path is SQLite, a postgresql:// URL is PostgreSQL, and any
other URL is refused with exit 2: never taken for a relative file path (issue 12 §2)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.state import POSTGRES, SQLITE, engine_for
from tests.helpers import ROOT, clean_env, write_config


def run_in(folder: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`newsbot ARGS` run from `folder`, so a URL taken for a path would land there."""
    config = write_config(folder / "config")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--config", str(config)],
        cwd=folder,
        env=clean_env({"NEWSBOT_DB": db, "NEWSBOT_HTTP_PORT": "0", "PYTHONPATH": str(ROOT)}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("target", "engine"),
    [
        pytest.param("newsbot.db", SQLITE, id="relative path"),
        pytest.param("/data/newsbot.db", SQLITE, id="absolute path"),
        pytest.param("state/db:with:colons", SQLITE, id="colons but no scheme"),
        pytest.param("postgresql://newsbot@db.internal/newsbot", POSTGRES, id="postgresql"),
        pytest.param("postgres://u:p@127.0.0.1:5432/n", POSTGRES, id="postgres"),
        pytest.param("PostgreSQL://db/n", POSTGRES, id="scheme in capitals"),
    ],
)
def test_the_engine_is_picked_from_the_form_of_newsbot_db(target: str, engine: str) -> None:
    assert engine_for(target) == engine


@pytest.mark.parametrize(
    "target", ["mysql://u@h/db", "sqlite+foo:///x.db", "sqlite:///x.db", "redis://h", "file://x"]
)
def test_any_other_url_is_refused(target: str) -> None:
    with pytest.raises(ConfigError, match="unsupported database URL scheme"):
        engine_for(target)


def test_a_mysql_url_exits_2_naming_the_setting_and_creates_nothing(tmp_path: Path) -> None:
    result = run_in(tmp_path, "mysql://newsbot:hunter2@db/newsbot", "run", "--once")
    assert result.returncode == 2, result.stderr
    assert "NEWSBOT_DB: unsupported database URL scheme 'mysql'" in result.stderr
    assert "postgresql://" in result.stderr  # says what would work
    assert "hunter2" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


@pytest.mark.skipif(
    importlib.util.find_spec("bot.state.postgres") is not None,
    reason="this build has the PostgreSQL engine (tests/test_store_contract.py runs it)",
)
def test_a_postgresql_url_is_never_taken_for_a_path(tmp_path: Path) -> None:
    """Before issue 12 this created a directory named `postgresql:` and a SQLite file in it."""
    result = run_in(tmp_path, "postgresql://newsbot:hunter2@127.0.0.1:9/newsbot", "status")
    assert result.returncode == 2, result.stderr
    assert "not available in this build" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert not (tmp_path / "postgresql:").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]
