"""A broken state location stops `newsbot run` with a clear error and touches nothing.

Disk-full and read-only cases use a small tmpfs, which needs root and mount(2) (CI has both);
elsewhere they skip with the reason.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import newsbot, write_config, write_feed_list


def run_with_db(tmp_path: Path, db: Path) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, ["http://127.0.0.1:9/none.xml"])
    return newsbot(
        "run", "--once", "--config", str(config), "--feeds", str(feeds), env={"NEWSBOT_DB": str(db)}
    )


def test_a_corrupt_database_is_refused_not_reset(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    before = db.read_bytes()
    result = run_with_db(tmp_path, db)
    assert result.returncode == 1
    assert f"state database {db}" in result.stderr
    assert "left untouched" in result.stderr or "not a database" in result.stderr
    assert db.read_bytes() == before


def test_a_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    run_with_db(tmp_path, db)  # creates it
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run_with_db(tmp_path, db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "locked" in result.stderr
    assert "another newsbot" in result.stderr


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_on_start_is_a_clear_error(tmp_path: Path, tmpfs: Path) -> None:
    filler = tmpfs / "filler"
    with filler.open("wb") as sink, contextlib.suppress(OSError):
        sink.write(b"\0" * 1024 * 1024)  # fails part-way: the disk is now full
    result = run_with_db(tmp_path, tmpfs / "state.db")
    assert result.returncode == 1
    assert "disk is full" in result.stderr or "full" in result.stderr, result.stderr


def test_a_read_only_state_directory_is_a_clear_error(tmp_path: Path, tmpfs: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    result = run_with_db(tmp_path, tmpfs / "state.db")
    assert result.returncode == 1
    assert "not writable" in result.stderr or "read-only" in result.stderr, result.stderr
