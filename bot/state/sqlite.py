"""The SQLite engine of the store (bot/state/interface.py): the embedded default, one file.

Contract, beyond the interface's:
- One connection per process, shared by the poll workers and the outbox behind a lock; every
  unit of work is one `BEGIN IMMEDIATE ... COMMIT`, rolled back on any error.
- WAL journal: readers never block the writer. Synchronous NORMAL: a process crash loses
  nothing committed.
- The outbox also carries messages newsbot builds whole (`roundup.Post`: a digest, an "and N
  more" list): rows of another `kind`, delivered in the same per-channel order, exactly once.
- Readers' feedback (bot/slack/feedback.py) is kept in its own table with a copy of the story, so
  it outlives the pruning of its alert: it is the team's labelled data.
- The schema is created and migrated here (`PRAGMA user_version`). A file that is not a newsbot
  database, is corrupt, locked or read-only raises StoreError with the path and the fix; it is
  never reset silently.
- One long-running service per file: see bot/state/instance.py (the file lock beside it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import StoreError
from bot.models import Feedback
from bot.state import sql
from bot.state.instance import InstanceLock
from bot.state.interface import (
    AlertRecord,
    AlertStatus,
    DigestWork,
    FeedState,
    PollWork,
    QueuedAlert,
)
from bot.state.rows import (
    alert_record,
    feedback_value,
)

T = TypeVar("T")


class _Conn:
    """`sql.Exec` over the store's connection (SQLite takes the `?` placeholders as written)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._db.execute(statement, params).fetchall()

    def change(self, statement: str, params: Sequence[Any] = ()) -> int:
        return self._db.execute(statement, params).rowcount

    def many(self, statement: str, params: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(statement, params)


SCHEMA_VERSION = 3  # 2: alerts.kind (digests); 3: the feedback table

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    initialized INTEGER NOT NULL DEFAULT 0,
    last_attempt REAL,
    last_success REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_due REAL NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seen (
    feed_url TEXT NOT NULL,
    story_id TEXT NOT NULL,
    story_key TEXT NOT NULL,
    first_seen REAL NOT NULL,
    PRIMARY KEY (feed_url, story_id)
);
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (first_seen);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    story_key TEXT NOT NULL,
    parent_id TEXT,
    payload TEXT NOT NULL,
    published REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    channel_id TEXT,
    ts TEXT,
    created REAL NOT NULL,
    delivered REAL,
    kind TEXT NOT NULL DEFAULT 'alert',
    UNIQUE (channel, story_key)
);
CREATE INDEX IF NOT EXISTS alerts_by_status ON alerts (status, channel, seq);
CREATE INDEX IF NOT EXISTS alerts_by_channel_time ON alerts (channel, published);
"""

# Readers' verdicts (slack/feedback.py), with a copy of the story: kept when its alert is pruned.
_FEEDBACK_TABLE = """
CREATE TABLE IF NOT EXISTS feedback (
    alert_id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    channel TEXT NOT NULL,
    story_id TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    url TEXT NOT NULL,
    source TEXT NOT NULL,
    published REAL,
    feed_url TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('relevant', 'irrelevant')),
    relevant INTEGER NOT NULL,
    irrelevant INTEGER NOT NULL,
    voters TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_by_time ON feedback (updated);
"""
_SCHEMA += _FEEDBACK_TABLE

# Steps from one schema version to the next, applied in order to an existing database.
_MIGRATIONS = {
    2: "ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'alert';",
    3: _FEEDBACK_TABLE,
}


def _steps(version: int) -> str:
    return "".join(_MIGRATIONS[step] for step in range(version + 1, SCHEMA_VERSION + 1))


class WaitTimedLock:
    """A re-entrant lock that counts how often, and how long, threads waited to take it: the
    store's one connection serialises the poll workers and the outbox (exported in /metrics as
    newsbot_store_lock_waits_total and newsbot_store_lock_wait_seconds_total)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waits = 0  # acquisitions that had to wait (changed only while holding the lock)
        self.wait_seconds = 0.0

    def __enter__(self) -> WaitTimedLock:
        if not self._lock.acquire(blocking=False):
            started = time.monotonic()
            self._lock.acquire()
            self.waits += 1
            self.wait_seconds += time.monotonic() - started
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


# Idle read connections kept for reuse (more are opened while more threads read at once): as
# many as the service has poll threads, so they are not opened and closed again and again.
IDLE_READERS = 8


class _Readers:
    """Read connections to a WAL database, lent one per read (SQLite WAL lets readers proceed
    while a write transaction is open on the main connection: they read the last commit)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def lend(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = sqlite3.connect(
                self._path, timeout=5.0, check_same_thread=False, isolation_level=None
            )
            db.row_factory = sqlite3.Row
            db.text_factory = _text  # as the main connection reads text
            db.execute("PRAGMA query_only=ON")
            # 256 KiB each (the main connection has 2 MiB): their reads are index seeks, and
            # eight full default caches would be 16 MiB more, filling slowly over days.
            db.execute("PRAGMA cache_size=-256")
        try:
            yield db
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < IDLE_READERS
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()


def _first_undelivered(column: str, where: str) -> str:
    """The least `column` over the undelivered (pending or sending) alerts matching `where`:
    one seek per status in the index alerts_by_status (status, channel, seq)."""
    pending, sending = (
        f"(SELECT min({column}) FROM alerts WHERE status = '{status}' AND {where})"
        for status in (AlertStatus.PENDING, AlertStatus.SENDING)
    )
    return f"COALESCE(min({pending}, {sending}), {pending}, {sending})"


# Each channel's oldest undelivered alert, in a time that does not grow with the queue: the
# channels are walked through the index (a skip scan: one seek per channel), then each one's
# first alert is one more seek (tests/test_outbox_index.py checks the plan).
_QUEUED_HEADS = f"""
WITH RECURSIVE channels(name) AS (
    SELECT {_first_undelivered("channel", "1")}
    UNION ALL
    SELECT {_first_undelivered("channel", "channel > name")} FROM channels WHERE name IS NOT NULL
),
heads(seq) AS (
    SELECT {_first_undelivered("seq", "channel = name")} FROM channels WHERE name IS NOT NULL
)
SELECT a.*, p.ts AS parent_ts, p.channel_id AS parent_channel_id
FROM heads JOIN alerts a ON a.seq = heads.seq LEFT JOIN alerts p ON p.id = a.parent_id
ORDER BY a.seq
"""


class SqliteStore(sql.SqlStore):
    """One SQLite connection for writes, shared by the poll workers and the outbox behind a
    lock; reads outside a write transaction go through read connections that do not wait for it.
    """

    queued_heads_statement = _QUEUED_HEADS

    def __init__(self, path: Path | str, *, clock: Any = time.time) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = WaitTimedLock()
        self._db = self._open(self.path)
        self._identity = _file_identity(self.path)
        self._instance: InstanceLock | None = None
        self._writer: int | None = None  # the thread inside `transaction()`, if any
        self._readers = None if path_is_memory(self._db) else _Readers(self.path)

    # --- opening and migrating ---------------------------------------------------------------

    @staticmethod
    def _check_location(path: str) -> None:
        if path == ":memory:":
            return
        target = Path(path)
        folder = target.parent if str(target.parent) else Path(".")
        if not folder.exists():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"state directory {folder} cannot be created: {exc.strerror}. "
                    "Set NEWSBOT_DB to a writable path."
                ) from None

    def _open(self, path: str) -> sqlite3.Connection:
        self._check_location(path)
        try:
            db = sqlite3.connect(path, timeout=5.0, check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.text_factory = _text  # damaged text reads as U+FFFD, not a failed query
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain_open_error(path, exc)) from None
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this newsbot "
                f"({SCHEMA_VERSION}): upgrade newsbot"
            )
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables - {"sqlite_sequence"}:
            raise sqlite3.DatabaseError("the file is an SQLite database, but not newsbot's")
        if path_is_memory(db):
            db.execute("PRAGMA journal_mode=MEMORY")
        else:
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives process crashes
        db.execute("PRAGMA foreign_keys=ON")
        if version < SCHEMA_VERSION:
            steps = _SCHEMA if version == 0 else _steps(version)
            db.executescript(f"BEGIN; {steps}; PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        db.execute("SELECT count(*) FROM feeds").fetchone()  # reads the file: finds corruption now
        self._check_writable(db)

    @staticmethod
    def _check_writable(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('opened', ?)", (str(time.time()),))
        db.execute("COMMIT")

    def check_file(self) -> None:
        """Raise StoreError when the database file was removed or replaced since it was opened.

        SQLite keeps writing to the open file either way, so nothing fails: what was seen and
        posted would be forgotten at the next start, and everything posted again.
        """
        if self._identity is None:
            return
        now = _file_identity(self.path)
        if now == self._identity:
            return
        what = "removed" if now is None else "replaced"
        raise StoreError(
            f"{self.path}: the state file was {what} while newsbot was running: stopping, so "
            "nothing is posted twice. Restore the file, or start newsbot again to use what is "
            "there now."
        )

    def lock_waits(self) -> tuple[int, float]:
        """How many times a thread waited for the store, and the seconds spent waiting."""
        return self._lock.waits, self._lock.wait_seconds

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._readers is not None:
                self._readers.close()
        if self._instance is not None:
            self._instance.release()
            self._instance = None

    def hold_instance(self, role: str) -> None:
        """Take the file's instance lock (bot/state/instance.py); an in-memory copy needs none."""
        if self.path != ":memory:" and self._instance is None:
            self._instance = InstanceLock.take(self.path, role)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the store lock; ROLLBACK on any error."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: {exc}") from None
            self._writer = threading.get_ident()
            try:
                yield self._db
            except sqlite3.DatabaseError as exc:  # a write failed mid-way: disk full, I/O error
                self._rollback()
                raise StoreError(f"{self.path}: {exc}") from None
            except BaseException:
                self._rollback()
                raise
            finally:
                self._writer = None
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"{self.path}: cannot commit: {exc}") from None

    def _rollback(self) -> None:
        # SQLite may have rolled back already (after SQLITE_FULL), or cannot: the same outcome.
        with contextlib.suppress(sqlite3.DatabaseError):
            self._db.execute("ROLLBACK")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read the last commit: a lent read connection, which does not wait
        for a write transaction; the main one, under the lock, inside this thread's own
        transaction (whose writes only it sees) and for an in-memory database."""
        if self._readers is None or self._writer == threading.get_ident():
            with self._lock:
                yield self._db
        else:
            with self._readers.lend() as db:
                yield db

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            with self._reading() as db:
                return db.execute(statement, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def _write(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self._transaction() as db:
            db.execute(statement, params)

    def _change(self, change: Callable[[sql.Exec], T]) -> T:
        with self._transaction() as db:
            return change(_Conn(db))

    def _read(self, read: Callable[[sql.Exec], T]) -> T:
        try:
            with self._reading() as db:
                return read(_Conn(db))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    def copy_to_memory(self) -> SqliteStore:
        """A private in-memory copy, for --dry-run: it acts on real state but persists nothing."""
        copy = SqliteStore.__new__(SqliteStore)
        copy.path, copy._clock, copy._lock = ":memory:", self._clock, WaitTimedLock()
        copy._identity, copy._instance = None, None
        copy._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        copy._db.row_factory = sqlite3.Row
        copy._writer, copy._readers = None, None
        with self._lock:
            self._db.backup(copy._db)
        return copy

    # --- feeds ---------------------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState:
        rows = self._query("SELECT * FROM feeds WHERE url = ?", (url,))
        if not rows:
            return FeedState(url)
        row = rows[0]
        return FeedState(
            row["url"],
            row["title"],
            row["etag"],
            row["last_modified"],
            bool(row["initialized"]),
            row["last_attempt"],
            row["last_success"],
            row["consecutive_failures"],
            row["last_error"],
            row["next_due"],
            bool(row["disabled"]),
        )

    def all_feed_states(self) -> list[FeedState]:
        return [self.feed_state(row["url"]) for row in self._query("SELECT url FROM feeds")]

    @staticmethod
    def _ensure_feed(db: sqlite3.Connection, url: str) -> None:
        db.execute(sql.ENSURE_FEED, (url,))

    def record_failure(
        self, url: str, error: str, next_due: float, *, disable: bool = False
    ) -> int:
        """Count one more consecutive failure; returns the new count."""
        with self._transaction() as db:
            self._ensure_feed(db, url)
            db.execute(
                "UPDATE feeds SET consecutive_failures = consecutive_failures + 1, "
                "last_error = ?, last_attempt = ?, next_due = ?, disabled = ? "
                "WHERE url = ?",
                (error, self._clock(), next_due, int(disable), url),
            )
            row = db.execute(
                "SELECT consecutive_failures FROM feeds WHERE url = ?", (url,)
            ).fetchone()
        return int(row[0])

    # --- units of work ---------------------------------------------------------------------

    @contextmanager
    def poll(self, feed_url: str) -> Iterator[PollWork]:
        """One feed's poll as one transaction (see bot/state/interface.py)."""
        with self._transaction() as db:
            yield sql.SqlPoll(_Conn(db), feed_url, self._clock())

    @contextmanager
    def digest(self, topic: str) -> Iterator[DigestWork]:
        """One topic's digest cut as one transaction (see bot/state/interface.py)."""
        with self._transaction() as db:
            yield sql.SqlDigest(_Conn(db), topic, self._clock())

    # --- reads for the clustering decision and the poll ---------------------------------------

    # --- outbox ---------------------------------------------------------------------------------

    def claim_next(self, channel: str, *, due_by: float | None = None) -> QueuedAlert | None:
        """Take the channel's next alert: select and mark `sending` in one transaction."""
        with self._transaction() as db:
            return sql.claim_next(_Conn(db), channel, due_by)

    def recent_alerts(
        self, since: float, *, topic: str | None = None, limit: int | None = None
    ) -> list[AlertRecord]:
        """Alerts queued since `since` (optionally of one topic), newest first."""
        rows = self._query(
            "SELECT * FROM alerts WHERE created >= ? AND (? IS NULL OR topic = ?) "
            "ORDER BY seq DESC LIMIT ?",
            (since, topic, topic, -1 if limit is None else limit),
        )
        return [alert_record(row) for row in rows]

    # --- readers' feedback ------------------------------------------------------------------------

    def feedback_for(self, alert_ids: Sequence[str]) -> dict[str, Feedback]:
        """The recorded feedback of these alerts, by alert id (alerts without any are absent)."""
        found: dict[str, Feedback] = {}
        for start in range(0, len(alert_ids), 500):  # SQLite's bound-parameter limit
            chunk = list(alert_ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT * FROM feedback WHERE alert_id IN ({marks})", chunk)
            found.update((row["alert_id"], feedback_value(row)) for row in rows)
        return found

    # --- retention -------------------------------------------------------------------------------

    def prune(self, retention_days: float) -> tuple[int, int]:
        """Forget seen stories and delivered alerts older than the retention; returns the counts.

        A story can only come back after retention if its feed still carries it; feeds rarely
        keep items for 30 days, and the default matches that.
        """
        cutoff = self._clock() - retention_days * 86400
        with self._transaction() as db:
            seen = db.execute("DELETE FROM seen WHERE first_seen < ?", (cutoff,)).rowcount
            alerts = db.execute(
                "DELETE FROM alerts WHERE status IN (?, ?) AND created < ?",
                (AlertStatus.SENT, AlertStatus.DIGESTED, cutoff),
            ).rowcount
        return seen, alerts


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a database file; None for an in-memory database or a missing file."""
    if path == ":memory:" or path.startswith("file::memory:"):
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def path_is_memory(db: sqlite3.Connection) -> bool:
    rows = db.execute("PRAGMA database_list").fetchall()
    return not rows or not rows[0][2]


def _explain_open_error(path: str, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = "another newsbot (or tool) holds it; stop it, or set NEWSBOT_DB to another file"
    elif "readonly" in text or "unable to open" in text:
        hint = "the file or its directory is not writable; fix permissions or set NEWSBOT_DB"
    elif "disk is full" in text or "disk I/O" in text:
        hint = "the disk is full or failing; free space and start again"
    elif "not a database" in text or "malformed" in text or "not newsbot" in text:
        hint = (
            "the file is not a healthy newsbot database; it was left untouched. Restore a "
            "backup or move it aside to start fresh (every feed will then count as new)"
        )
    else:
        hint = "see the SQLite message"
    return f"state database {path}: {text} ({hint})"
