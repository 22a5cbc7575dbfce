"""SQL shared by the engines, and the units of work built on it.

Contract: each statement here is written once, with `?` placeholders, in SQL that SQLite (3.24 or
later) and PostgreSQL both accept (`ON CONFLICT ... DO NOTHING/UPDATE`, `COALESCE`, `LEFT JOIN`,
`UNION ALL`). An engine runs it through an `Exec` over its own connection, inside its own
transaction: SQLite's passes it as it is, PostgreSQL's through `pyformat` (`?` -> `%s`). The
poll and digest units of work (`PollWork`, `DigestWork` in bot/state/interface.py) are
implemented here once, over an `Exec`. The schema and the engine-specific statements (SQLite's
skip-scan over the outbox, PostgreSQL's locks) stay in each engine.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from bot.models import Alert, Feedback, Post, Story
from bot.state.interface import (
    ALERT,
    QUEUED,
    UNREADABLE_ALERT,
    AlertedReport,
    AlertStatus,
    PostedAlert,
    QueuedAlert,
    SeqReport,
    Undelivered,
)
from bot.state.rows import (
    FEEDBACK_COLUMNS,
    UNREADABLE,
    Row,
    alerted_report,
    decode_alert,
    encode_alert,
    encode_post,
    epoch,
    feedback_row,
    feedback_value,
    queued_alert,
    story_from_json,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
PENDING, SENDING, SENT = AlertStatus.PENDING, AlertStatus.SENDING, AlertStatus.SENT
PARKED, FAILED, HELD = AlertStatus.PARKED, AlertStatus.FAILED, AlertStatus.HELD

CHUNK = 500  # ids per `IN (...)`: under SQLite's bound-parameter limit (999 before 3.32)


class Exec(Protocol):
    """An engine's connection, inside one of its transactions."""

    def rows(self, sql: str, params: Sequence[Any] = (), /) -> Sequence[Row]:
        """Run a query; its rows."""
        ...

    def change(self, sql: str, params: Sequence[Any] = (), /) -> int:
        """Run a write; how many rows it changed."""
        ...

    def many(self, sql: str, params: Sequence[Sequence[Any]], /) -> None:
        """Run a write once per parameter row."""
        ...


def pyformat(sql: str) -> str:
    """This module's `?` placeholders as the `%s` of psycopg (DB-API `format` style)."""
    return sql.replace("%", "%%").replace("?", "%s")


def marks(count: int) -> str:
    return ",".join("?" * count)


# --- feeds and stories -------------------------------------------------------------------------

ENSURE_FEED = "INSERT INTO feeds (url) VALUES (?) ON CONFLICT (url) DO NOTHING"
MARK_SEEN = (
    "INSERT INTO seen (feed_url, story_id, story_key, first_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (feed_url, story_id) DO NOTHING"
)
POLLED = (
    "UPDATE feeds SET title = ?, etag = ?, last_modified = ?, initialized = 1, "
    "consecutive_failures = 0, last_error = NULL, last_attempt = ?, "
    "last_success = ?, next_due = ? WHERE url = ?"
)


def unseen(ex: Exec, feed_url: str, stories: Sequence[Story]) -> list[Story]:
    """The stories of this feed not recorded before, in feed order."""
    seen: set[str] = set()
    ids = [story.id for story in stories]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = ex.rows(
            f"SELECT story_id FROM seen WHERE feed_url = ? AND story_id IN ({marks(len(chunk))})",
            (feed_url, *chunk),
        )
        seen.update(row["story_id"] for row in rows)
    return [story for story in stories if story.id not in seen]


# --- alerts ------------------------------------------------------------------------------------


def queue_alert(ex: Exec, alert: Alert, now: float, status: AlertStatus) -> bool:
    """Record one alert; False when its id, or its story in its channel, is already there."""
    return (
        ex.change(
            "INSERT INTO alerts (id, topic, channel, story_key, parent_id, payload, published, "
            "created, status, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                alert.id,
                alert.topic,
                alert.channel,
                alert.story.key,
                alert.parent_id,
                encode_alert(alert),
                epoch(alert.story.published) or now,
                now,
                status.value,
                ALERT,
            ),
        )
        == 1
    )


def queue_post(ex: Exec, post: Post, now: float) -> bool:
    """Queue a prebuilt message; its id (also its story_key) makes a second copy a no-op."""
    return (
        ex.change(
            "INSERT INTO alerts (id, topic, channel, story_key, payload, published, created, "
            "status, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                post.id,
                post.topic,
                post.channel,
                post.id,
                encode_post(post),
                now,
                now,
                AlertStatus.PENDING.value,
                post.kind,
            ),
        )
        == 1
    )


_REPORT_COLUMNS = (
    "SELECT a.seq, a.id, a.parent_id, a.payload, a.channel, a.published, "
    "COALESCE(p.published, a.published) AS event_start FROM alerts a "
    "LEFT JOIN alerts p ON p.id = a.parent_id WHERE a.kind = ? "
)


def prior_reports(ex: Exec, channel: str, since: float) -> list[AlertedReport]:
    rows = ex.rows(
        _REPORT_COLUMNS + "AND a.channel = ? AND COALESCE(p.published, a.published) >= ? "
        "ORDER BY a.seq",
        (ALERT, channel, since),
    )
    return [report for row in rows if (report := alerted_report(row)) is not None]


def reports_after(ex: Exec, seq: int, since: float, limit: int | None = None) -> list[SeqReport]:
    """Read by sequence number: every alert below the highest one committed must be committed
    too, or the reader moves past it for good. SQLite has one writer at a time; PostgreSQL
    polls take an advisory lock before they queue alerts, held until they commit. A damaged
    stored copy is returned as a None report: a reader in pages counts it, and moves past it."""
    rows = ex.rows(
        _REPORT_COLUMNS + "AND a.seq > ? AND COALESCE(p.published, a.published) >= ? "
        "ORDER BY a.seq" + ("" if limit is None else f" LIMIT {int(limit)}"),
        (ALERT, seq, since),
    )
    return [SeqReport(row["seq"], row["channel"], alerted_report(row)) for row in rows]


def last_alert_seq(ex: Exec) -> int:
    return int(ex.rows("SELECT COALESCE(MAX(seq), 0) AS seq FROM alerts")[0]["seq"])


# --- the outbox --------------------------------------------------------------------------------

# A channel's oldest undelivered alert: one index seek per status (alerts_by_status is
# (status, channel, seq)), whatever the length of the queue.
_CHANNEL_HEAD = (
    "SELECT a.*, p.ts AS parent_ts, p.channel_id AS parent_channel_id FROM alerts a "
    "LEFT JOIN alerts p ON p.id = a.parent_id WHERE a.seq = (SELECT min(s) FROM ("
    "SELECT min(seq) AS s FROM alerts WHERE status = ? AND channel = ? UNION ALL "
    "SELECT min(seq) AS s FROM alerts WHERE status = ? AND channel = ?) AS heads)"
)


def set_aside(ex: Exec, alert_id: str, channel: str, exc: Exception) -> None:
    """A queued alert that cannot be decoded would stop its channel for good: mark it failed
    with the reason (`newsbot status` shows it) so the channel's next alert can go."""
    reason = f"{UNREADABLE_ALERT} ({type(exc).__name__}: {str(exc)[:120]})"
    log.error(
        f"{UNREADABLE_ALERT}: set aside as failed",
        extra={"alert_id": alert_id, "channel": channel, "error": reason},
    )
    ex.change(
        "UPDATE alerts SET status = ?, last_error = ? WHERE id = ?",
        (AlertStatus.FAILED.value, reason, alert_id),
    )


def channel_head(ex: Exec, channel: str) -> QueuedAlert | None:
    pending, sending = (status.value for status in QUEUED)
    while True:
        rows = ex.rows(_CHANNEL_HEAD, (pending, channel, sending, channel))
        if not rows:
            return None
        try:
            return queued_alert(rows[0])
        except UNREADABLE as exc:
            set_aside(ex, rows[0]["id"], channel, exc)


def claim_next(ex: Exec, channel: str, due_by: float | None) -> QueuedAlert | None:
    """Inside a write transaction: see `Store.claim_next`. The update names the status it read,
    so it takes nothing another claim changed in between (PostgreSQL's READ COMMITTED)."""
    head = channel_head(ex, channel)
    if head is None or (due_by is not None and head.next_attempt > due_by):
        return None
    taken = ex.change(
        "UPDATE alerts SET status = ?, attempts = attempts + 1 WHERE seq = ? AND status = ?",
        (AlertStatus.SENDING.value, head.seq, head.status.value),
    )
    return head if taken == 1 else None


# --- the units of work -------------------------------------------------------------------------


class SqlPoll:
    """`PollWork` over an engine's `Exec`, inside the transaction the engine opened."""

    def __init__(
        self,
        ex: Exec,
        feed_url: str,
        now: float,
        *,
        before_alerts: Callable[[], None] = lambda: None,
    ) -> None:
        self._ex = ex
        self._feed_url = feed_url
        self._now = now
        # Run before the poll queues alerts or posts: an engine whose transactions can commit
        # alerts out of sequence order (PostgreSQL) serialises them here (see `reports_after`).
        self._before_alerts = before_alerts

    def unseen(self, stories: Sequence[Story]) -> list[Story]:
        return unseen(self._ex, self._feed_url, stories)

    def prior_reports(self, channel: str, since: float) -> list[AlertedReport]:
        return prior_reports(self._ex, channel, since)

    def reports_after(self, seq: int, since: float, limit: int | None = None) -> list[SeqReport]:
        return reports_after(self._ex, seq, since, limit)

    def last_alert_seq(self) -> int:
        return last_alert_seq(self._ex)

    def record(
        self,
        *,
        title: str | None,
        etag: str | None,
        last_modified: str | None,
        stories: Sequence[Story],
        alerts: Sequence[Alert],
        next_due: float,
        held: Sequence[Alert] = (),
        posts: Sequence[Post] = (),
    ) -> list[Alert]:
        ex, now, url = self._ex, self._now, self._feed_url
        ex.change(ENSURE_FEED, (url,))
        ex.many(MARK_SEEN, [(url, story.id, story.key, now) for story in stories])
        if alerts or held or posts:
            self._before_alerts()
        queued = [a for a in alerts if queue_alert(ex, a, now, AlertStatus.PENDING)]
        queued += [a for a in held if queue_alert(ex, a, now, AlertStatus.HELD)]
        for post in posts:
            queue_post(ex, post, now)
        ex.change(POLLED, (title, etag, last_modified, now, now, next_due, url))
        return queued


class SqlDigest:
    """`DigestWork` over an engine's `Exec`, inside the transaction the engine opened."""

    def __init__(self, ex: Exec, topic: str, now: float) -> None:
        self._ex = ex
        self._topic = topic
        self._now = now

    def held(self) -> list[Alert]:
        rows = self._ex.rows(
            "SELECT * FROM alerts WHERE status = ? AND topic = ? ORDER BY seq",
            (AlertStatus.HELD.value, self._topic),
        )
        return [decode_alert(row) for row in rows]

    def cut(self, posts: Sequence[Post], held: Sequence[str]) -> int:
        for post in posts:
            queue_post(self._ex, post, self._now)
        taken = 0
        for start in range(0, len(held), CHUNK):
            chunk = list(held[start : start + CHUNK])
            taken += self._ex.change(
                f"UPDATE alerts SET status = ? WHERE status = ? AND id IN ({marks(len(chunk))})",
                (AlertStatus.DIGESTED.value, AlertStatus.HELD.value, *chunk),
            )
        return taken


class SqlStore:
    """The Store methods whose SQL both engines run as written: each engine provides the
    primitives below (a read, a write, a unit of work over its `Exec`) and its clock."""

    _clock: Callable[[], float]
    # Each channel's oldest undelivered alert, one row per channel, in the engine's dialect.
    queued_heads_statement: ClassVar[str]

    def _query(self, statement: str, params: Sequence[Any] = ()) -> Sequence[Row]:
        raise NotImplementedError

    def _write(self, statement: str, params: Sequence[Any] = ()) -> object:
        raise NotImplementedError

    def _read(self, read: Callable[[Exec], T]) -> T:
        """`read` over a connection that sees the last commit."""
        raise NotImplementedError

    def _change(self, change: Callable[[Exec], T]) -> T:
        """`change` inside one write transaction."""
        raise NotImplementedError

    def park_channel(self, channel: str, reason: str) -> int:
        return self._change(
            lambda ex: ex.change(
                "UPDATE alerts SET status = ?, last_error = ? "
                "WHERE channel = ? AND status IN (?, ?)",
                (PARKED, reason, channel, *QUEUED),
            )
        )

    def unpark_all(self) -> int:
        """Give parked alerts another chance (at start-up: the admin may have fixed the channel).

        They go back as `sending`: a parked alert may have been posted before its channel broke.
        """
        return self._change(
            lambda ex: ex.change(
                "UPDATE alerts SET status = ?, next_attempt = 0 WHERE status = ?", (SENDING, PARKED)
            )
        )

    def outbox_depth(self) -> int:
        rows = self._query("SELECT count(*) AS n FROM alerts WHERE status IN (?, ?)", QUEUED)
        return int(rows[0]["n"])

    def undelivered(self) -> list[Undelivered]:
        """Every alert not in Slack, grouped by channel, status and last error, oldest first."""
        rows = self._query(
            "SELECT status, channel, COALESCE(last_error, '') AS error, count(*) AS n, "
            "min(created) AS since FROM alerts WHERE status IN (?, ?, ?, ?) "
            "GROUP BY status, channel, COALESCE(last_error, '') ORDER BY min(created)",
            (*QUEUED, PARKED, FAILED),
        )
        return [
            Undelivered(
                AlertStatus(r["status"]), r["channel"], r["error"], int(r["n"]), float(r["since"])
            )
            for r in rows
        ]

    def enable_feed(self, url: str) -> None:
        self._write(
            "UPDATE feeds SET disabled = 0, consecutive_failures = 0, next_due = 0 WHERE url = ?",
            (url,),
        )

    def mark_sent(self, alert_id: str, channel_id: str, ts: str) -> None:
        self._write(
            "UPDATE alerts SET status = ?, channel_id = ?, ts = ?, delivered = ?, "
            "last_error = NULL WHERE id = ?",
            (SENT, channel_id, ts, self._clock(), alert_id),
        )

    def mark_retry(self, alert_id: str, error: str, next_attempt: float, *, unknown: bool) -> None:
        """Leave the alert queued; `unknown` keeps it `sending`: the next try checks Slack first."""
        status = SENDING if unknown else PENDING
        self._write(
            "UPDATE alerts SET status = ?, last_error = ?, next_attempt = ? WHERE id = ?",
            (status, error, next_attempt, alert_id),
        )

    def mark_failed(self, alert_id: str, error: str) -> None:
        """Slack refused this alert for a reason resending cannot fix; kept, and shown in status."""
        self._write(
            "UPDATE alerts SET status = ?, last_error = ? WHERE id = ?", (FAILED, error, alert_id)
        )

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    def any_feed_initialized(self) -> bool:
        return bool(self._query("SELECT 1 FROM feeds WHERE initialized = 1 LIMIT 1"))

    def last_alert_seq(self) -> int:
        return self._read(last_alert_seq)

    def prior_reports(self, channel: str, since: float) -> list[AlertedReport]:
        return self._read(lambda ex: prior_reports(ex, channel, since))

    def reports_after(self, seq: int, since: float, limit: int | None = None) -> list[SeqReport]:
        return self._read(lambda ex: reports_after(ex, seq, since, limit))

    def unseen(self, feed_url: str, stories: Sequence[Story]) -> list[Story]:
        """The stories of this feed not recorded before, in feed order."""
        if not stories:
            return []
        return self._read(lambda ex: unseen(ex, feed_url, stories))

    def posted_since(self, since: float) -> list[PostedAlert]:
        """Alerts delivered at or after `since` with their place in Slack, oldest first."""
        rows = self._query(
            "SELECT a.id, a.topic, a.channel, a.channel_id, a.ts, a.parent_id, a.payload, "
            "p.ts AS parent_ts FROM alerts a LEFT JOIN alerts p ON p.id = a.parent_id "
            "WHERE a.status = ? AND a.kind = ? AND a.ts IS NOT NULL "
            "AND a.channel_id IS NOT NULL AND a.delivered >= ? ORDER BY a.seq",
            (SENT, ALERT, since),
        )
        return [
            PostedAlert(
                row["id"],
                row["topic"],
                row["channel"],
                row["channel_id"],
                row["ts"],
                row["parent_ts"] if row["parent_id"] else None,
                story_from_json(json.loads(row["payload"])["story"]),
            )
            for row in rows
        ]

    def delivered(self) -> list[tuple[str, str, str | None, str]]:
        """(alert id, channel, parent id, ts) of every delivered alert, for tests and status."""
        rows = self._query(
            "SELECT id, channel, parent_id, ts FROM alerts WHERE status = ? ORDER BY seq", (SENT,)
        )
        return [(r["id"], r["channel"], r["parent_id"], r["ts"]) for r in rows]

    def failed(self) -> list[tuple[str, str, str]]:
        """(alert id, channel, error) of alerts Slack refused for good."""
        rows = self._query(
            "SELECT id, channel, last_error FROM alerts WHERE status = ? ORDER BY seq", (FAILED,)
        )
        return [(row["id"], row["channel"], row["last_error"] or "") for row in rows]

    def alert_counts_since(self, since: float) -> list[tuple[str, str, AlertStatus, int]]:
        """(topic, channel, status, count) for alerts created since `since`."""
        rows = self._query(
            "SELECT topic, channel, status, count(*) AS n FROM alerts WHERE created >= ? "
            "GROUP BY topic, channel, status ORDER BY topic, channel, status",
            (since,),
        )
        return [(r["topic"], r["channel"], AlertStatus(r["status"]), int(r["n"])) for r in rows]

    def held_counts(self) -> dict[str, int]:
        """Per topic, how many stories wait for its next digest (one per story and channel)."""
        rows = self._query(
            "SELECT topic, count(*) AS n FROM alerts WHERE status = ? GROUP BY topic", (HELD,)
        )
        return {row["topic"]: int(row["n"]) for row in rows}

    def parked(self) -> list[tuple[str, str, int]]:
        rows = self._query(
            "SELECT channel, last_error, count(*) AS n FROM alerts WHERE status = ? "
            "GROUP BY channel, last_error",
            (PARKED,),
        )
        return [(row["channel"], row["last_error"] or "", int(row["n"])) for row in rows]

    def feedback_counts(self) -> list[tuple[str, int, int]]:
        """(topic, alerts marked relevant, alerts marked not relevant), by topic."""
        rows = self._query(
            "SELECT topic, count(*) FILTER (WHERE label = 'relevant') AS yes, "
            "count(*) FILTER (WHERE label = 'irrelevant') AS no FROM feedback "
            "GROUP BY topic ORDER BY topic"
        )
        return [(row["topic"], int(row["yes"]), int(row["no"])) for row in rows]

    def record_not_modified(self, url: str, next_due: float) -> None:
        now = self._clock()

        def record(ex: Exec) -> None:
            ex.change(ENSURE_FEED, (url,))
            ex.change(
                "UPDATE feeds SET consecutive_failures = 0, last_error = NULL, "
                "last_attempt = ?, last_success = ?, next_due = ? WHERE url = ?",
                (now, now, next_due, url),
            )

        self._change(record)

    def save_feedback(self, changed: Sequence[Feedback], cleared: Sequence[str]) -> None:
        """Record new or changed verdicts and forget the cleared ones, in one transaction."""
        updates = ", ".join(f"{name} = excluded.{name}" for name in FEEDBACK_COLUMNS[1:])

        def save(ex: Exec) -> None:
            ex.many(
                f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) "
                f"VALUES ({marks(len(FEEDBACK_COLUMNS))}) "
                f"ON CONFLICT (alert_id) DO UPDATE SET {updates}",
                [feedback_row(item) for item in changed],
            )
            ex.many("DELETE FROM feedback WHERE alert_id = ?", [(i,) for i in cleared])

        self._change(save)

    def feedback_list(
        self,
        *,
        since: float | None = None,
        topic: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Feedback]:
        """Recorded verdicts changed at or after `since`, of one topic or all, by time."""
        statement = "SELECT * FROM feedback WHERE updated >= ?"
        params: list[Any] = [since if since is not None else float("-inf")]
        if topic is not None:
            statement += " AND topic = ?"
            params.append(topic)
        statement += (
            " ORDER BY updated DESC, alert_id" if newest_first else " ORDER BY updated, alert_id"
        )
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        return [feedback_value(row) for row in self._query(statement, params)]

    def queued_heads(self) -> list[QueuedAlert]:
        """For each channel, its oldest undelivered alert: delivery keeps each channel in order.

        A row that cannot be decoded (a damaged payload) would stop its channel, and every
        delivery round, for good: it is set aside as failed with the reason (`sql.set_aside`),
        and the channel's next alert becomes its head.
        """
        while True:
            heads, unreadable = [], False
            for row in self._query(self.queued_heads_statement):
                try:
                    heads.append(queued_alert(row))
                except UNREADABLE as exc:
                    self._set_aside(str(row["id"]), str(row["channel"]), exc)
                    unreadable = True
            if not unreadable:
                return heads

    def _set_aside(self, alert_id: str, channel: str, exc: Exception) -> None:
        def mark(ex: Exec) -> None:
            set_aside(ex, alert_id, channel, exc)

        self._change(mark)
