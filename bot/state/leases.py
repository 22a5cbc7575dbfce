"""Work shared by replicas on one PostgreSQL database: who polls which feed, who delivers which
channel's outbox, and where each periodic job runs.

Contract:
- A lease is one row (name, holder, expires). `claim(name)` is ONE statement, an
  `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the holder is this replica or the lease has expired,
  so two replicas can never both hold a name: PostgreSQL locks the row and re-checks the condition
  on its latest version. Names: `feed:<url>`, `channel:<channel>`.
- Time is the database's clock (`clock_timestamp()`), so replicas on hosts with skewed clocks
  agree on what has expired.
- A heartbeat (every ttl/3 seconds, its own connection and thread) renews every lease the replica
  holds and its row in `replicas` (id `host:pid:start`), which `newsbot status` lists with what each
  replica holds. A replica that dies stops renewing: its leases expire `ttl` seconds later, and
  the others take its feeds at their next heartbeat (so within ttl + ttl/3) and its channels at
  their next delivery round. A replica that stops cleanly releases its leases at once.
- Fair share: a replica that holds more feed leases than ceil(feeds / live replicas) releases the
  excess at its heartbeat, and does not take free feeds while at its share, so feeds spread over
  the replicas without a coordinator. A replica under its share is told at its heartbeat which
  feeds nobody holds (as many as it has room for), and polls them then: a feed handed over or
  left by a dead replica waits a heartbeat, not up to a whole poll interval.
- Periodic jobs (digests, pruning, reading reactions) run once across replicas:
  `first_to_run(job, slot)` inserts (job, slot) and only the replica whose insert went in runs it.
- A lease says who should do the work; it does not fence the world outside the database. The
  outbox's history check (bot/alerts/outbox.py) still guards a post whose outcome is unknown;
  a replica frozen (SIGSTOP, a paused VM) for longer than the ttl between claiming a channel and
  posting can post once more when it wakes. A killed one cannot.
- With SQLite (one process) `Solo` grants everything.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from bot.errors import StoreError

if TYPE_CHECKING:
    from bot.state.postgres import PostgresStore

log = logging.getLogger(__name__)

DEFAULT_TTL = 30.0  # seconds a lease lives without renewal
FEED, CHANNEL = "feed:", "channel:"
_NOW = "extract(epoch FROM clock_timestamp())::float8"

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires DOUBLE PRECISION NOT NULL,
    since DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_by_holder ON leases (holder);
CREATE TABLE IF NOT EXISTS replicas (
    id TEXT PRIMARY KEY,
    started DOUBLE PRECISION NOT NULL,
    heartbeat DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS job_runs (
    job TEXT NOT NULL,
    slot BIGINT NOT NULL,
    holder TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job, slot)
);
"""

_CLAIM = f"""
INSERT INTO leases (name, holder, expires, since) VALUES (%s, %s, {_NOW} + %s, {_NOW})
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires,
    since = CASE WHEN leases.holder = EXCLUDED.holder THEN leases.since ELSE EXCLUDED.since END
WHERE leases.holder = EXCLUDED.holder OR leases.expires < EXCLUDED.since
RETURNING holder
"""


@dataclass(frozen=True, slots=True)
class Replica:
    """One replica as `newsbot status` shows it."""

    id: str
    started: float
    heartbeat_age: float  # seconds since its last heartbeat, by the database's clock
    alive: bool  # heartbeat within the ttl
    feeds: int
    channels: tuple[str, ...]


class Coordinator(Protocol):
    """What the service asks before doing shared work (see the module docstring)."""

    replica_id: str
    heartbeat_every: float  # seconds between heartbeats; 0: none needed

    def claim_feed(self, url: str) -> bool: ...

    def claim_channel(self, channel: str) -> bool: ...

    def first_to_run(self, job: str, slot: int) -> bool: ...

    def heartbeat(self, feeds: Sequence[str]) -> list[str]:
        """Renew; return the feeds (of `feeds`, the configured urls) nobody holds that this
        replica has room for under its share, to poll now."""
        ...

    def release_all(self) -> None: ...

    def close(self) -> None: ...

    def replicas(self) -> list[Replica]: ...

    def problem(self) -> str:
        """'' when the last heartbeat reached the database; else why not (for /readyz)."""
        ...


def replica_id(started: float | None = None) -> str:
    started = time.time() if started is None else started
    return f"{socket.gethostname()}:{os.getpid()}:{int(started)}"


class Solo:
    """One process owns everything (SQLite, or --dry-run)."""

    def __init__(self) -> None:
        self.replica_id = replica_id()
        self.heartbeat_every = 0.0

    def claim_feed(self, url: str) -> bool:
        return True

    def claim_channel(self, channel: str) -> bool:
        return True

    def first_to_run(self, job: str, slot: int) -> bool:
        return True

    def heartbeat(self, feeds: Sequence[str]) -> list[str]:
        return []

    def release_all(self) -> None:
        return None

    def close(self) -> None:
        return None

    def replicas(self) -> list[Replica]:
        return []

    def problem(self) -> str:
        return ""


def fair_share(feeds: int, live: int) -> int:
    """The most feeds one of `live` replicas should hold."""
    return math.ceil(feeds / max(live, 1))


class PgLeases:
    """Leases in PostgreSQL, on a connection of their own (never queued behind the store)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        ttl: float = DEFAULT_TTL,
        ident: str | None = None,
        where: str = "postgresql",
    ) -> None:
        self.replica_id = ident or replica_id()
        self.ttl = ttl
        self.heartbeat_every = ttl / 3
        self._connect = connect
        self._where = where
        self._conn: Any = None
        self._lock = threading.Lock()
        self._feeds: set[str] = set()  # feed leases held, as of the last heartbeat and claims
        self._fair = 1 << 30  # no limit until the first heartbeat has counted the replicas
        self._problem = ""
        self._released = False
        with self._cursor() as cur:
            cur.execute(
                f"INSERT INTO replicas VALUES (%s, {_NOW}, {_NOW}) ON CONFLICT (id) DO NOTHING",
                (self.replica_id,),
            )

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None
                raise StoreError(f"{self._where}: leases: {exc}".strip()) from None

    def _claim(self, name: str) -> bool:
        try:
            with self._cursor() as cur:
                cur.execute(_CLAIM, (name, self.replica_id, self.ttl))
                return cur.fetchone() is not None
        except StoreError as exc:
            log.warning("lease not claimed: database unreachable", extra={"error": str(exc)})
            return False  # cannot tell who holds it: do not do the work

    def claim_feed(self, url: str) -> bool:
        name = FEED + url
        if name not in self._feeds and len(self._feeds) >= self._fair:
            return False  # at its share: leave free feeds to the others
        if self._claim(name):
            self._feeds.add(name)
            return True
        self._feeds.discard(name)
        return False

    def claim_channel(self, channel: str) -> bool:
        return self._claim(CHANNEL + channel)

    def first_to_run(self, job: str, slot: int) -> bool:
        try:
            with self._cursor() as cur:
                cur.execute(
                    f"INSERT INTO job_runs VALUES (%s, %s, %s, {_NOW}) ON CONFLICT DO NOTHING",
                    (job, slot, self.replica_id),
                )
                return bool(cur.rowcount == 1)
        except StoreError as exc:
            log.warning("job skipped: database unreachable", extra={"job": job, "error": str(exc)})
            return False

    def heartbeat(self, feeds: Sequence[str]) -> list[str]:
        """Renew this replica's row and leases; give back feeds over the fair share; return the
        free feeds it has room for."""
        try:
            with self._cursor() as cur:
                free = self._beat(cur, feeds)
        except StoreError as exc:
            if not self._problem:
                log.error("heartbeat failed: database unreachable", extra={"error": str(exc)})
            self._problem = str(exc)
            return []
        if self._problem:
            log.info("heartbeat: database reachable again")
        self._problem = ""
        return free

    def _beat(self, cur: Any, feeds: Sequence[str]) -> list[str]:
        cur.execute(
            f"INSERT INTO replicas VALUES (%s, {_NOW}, {_NOW}) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat",
            (self.replica_id,),
        )
        cur.execute(
            f"UPDATE leases SET expires = {_NOW} + %s WHERE holder = %s",
            (self.ttl, self.replica_id),
        )
        cur.execute(f"SELECT count(*) FROM replicas WHERE heartbeat > {_NOW} - %s", (self.ttl,))
        live = int(cur.fetchone()[0])
        cur.execute(
            "SELECT name FROM leases WHERE holder = %s AND name LIKE 'feed:%%' ORDER BY random()",
            (self.replica_id,),
        )
        mine = [row[0] for row in cur.fetchall()]
        fair = fair_share(len(feeds), live)
        if len(mine) > fair:
            extra = mine[fair:]
            cur.execute(
                "DELETE FROM leases WHERE name = ANY(%s) AND holder = %s", (extra, self.replica_id)
            )
            log.info("feeds handed over", extra={"released": len(extra), "share": fair})
            mine = mine[:fair]
        self._feeds, self._fair = set(mine), fair
        # Dead replicas stay listed (as dead) for an hour; job marks are kept for a week.
        cur.execute(f"DELETE FROM replicas WHERE heartbeat < {_NOW} - %s", (max(3600, self.ttl),))
        cur.execute(f"DELETE FROM job_runs WHERE at < {_NOW} - 7 * 86400")
        return self._free(cur, feeds, fair - len(mine))

    def _free(self, cur: Any, feeds: Sequence[str], room: int) -> list[str]:
        """Up to `room` of `feeds` that no replica holds now, in random order (so replicas with
        room at once spread over them)."""
        if room <= 0:
            return []
        names = [FEED + url for url in feeds]
        cur.execute(f"SELECT name FROM leases WHERE name = ANY(%s) AND expires > {_NOW}", (names,))
        held = {row[0] for row in cur.fetchall()}
        free = [url for url, name in zip(feeds, names, strict=True) if name not in held]
        return random.sample(free, min(room, len(free)))

    def release_all(self) -> None:
        """Give every lease back and leave the replicas table (a clean stop); once."""
        if self._released:
            return
        self._released = True
        with contextlib.suppress(StoreError), self._cursor() as cur:
            cur.execute("DELETE FROM leases WHERE holder = %s", (self.replica_id,))
            cur.execute("DELETE FROM replicas WHERE id = %s", (self.replica_id,))
        self.close()

    def close(self) -> None:
        """Close the connection, keeping the leases (they lapse unless renewed)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

    def replicas(self) -> list[Replica]:
        with self._cursor() as cur:
            return list_replicas(cur, self.ttl)

    def problem(self) -> str:
        return self._problem


def list_replicas(cur: Any, ttl: float) -> list[Replica]:
    """Every replica in the table, oldest first, with the feeds and channels it holds."""
    cur.execute(
        f"SELECT r.id, r.started, {_NOW} - r.heartbeat, "
        "count(l.name) FILTER (WHERE l.name LIKE 'feed:%%' AND l.expires > "
        f"{_NOW}), "
        "COALESCE(array_agg(substr(l.name, 9) ORDER BY l.name) FILTER (WHERE l.name LIKE "
        f"'channel:%%' AND l.expires > {_NOW}), '{{}}') "
        "FROM replicas r LEFT JOIN leases l ON l.holder = r.id "
        "GROUP BY r.id, r.started, r.heartbeat ORDER BY r.started, r.id"
    )
    return [
        Replica(row[0], row[1], row[2], row[2] <= ttl, int(row[3]), tuple(row[4]))
        for row in cur.fetchall()
    ]


def coordinator_for(store: object, ttl: float = DEFAULT_TTL) -> Coordinator:
    """Leases in the database for PostgreSQL state (replicas); one process owns all otherwise
    (SQLite, and --dry-run's private in-memory copy)."""
    return store.leases(ttl=ttl) if _on_postgres(store) else Solo()


def replicas_of(store: object, ttl: float = DEFAULT_TTL) -> list[Replica] | None:
    """The replicas sharing this store, for `newsbot status`; None for SQLite (one process)."""
    return store.replicas(ttl) if _on_postgres(store) else None


def _on_postgres(store: object) -> TypeGuard[PostgresStore]:
    """Is this PostgreSQL state? Asked without importing psycopg for SQLite state (about 0.1 s
    of every start): a PostgresStore exists only once its module is loaded."""
    module = sys.modules.get("bot.state.postgres")
    return module is not None and isinstance(store, module.PostgresStore)
