"""The store's interface: what every state engine (SQLite, PostgreSQL) offers, and its values.

Contract (tests/test_store_contract.py runs it against each engine):
- Callers never see a connection or a row. A poll's writes go through one unit of work,
  `with store.poll(feed_url) as tx:`, committed when the block ends normally and rolled back
  when it raises: a feed's new ETag/Last-Modified, the stories seen and the alerts they produced
  are recorded together or not at all, so a crash can never make a story vanish.
- A digest is cut through `with store.digest(topic) as tx:`: its messages are queued and the
  stories it lists leave `held` together, so each held story is in exactly one digest.
- An alert's id is derived from channel + story key and is UNIQUE, and (channel, story key) is
  UNIQUE: a story is queued once per channel, across feeds, processes and restarts.
- The outbox takes work with `claim_next(channel)`: one atomic step selects the channel's oldest
  undelivered alert and marks it `sending`, so two deliverers can never both take it. The claim
  returns the alert as it was before the claim: a `sending` one had an attempt whose outcome is
  unknown, and the outbox looks for it in Slack before posting again.
- Status values are `AlertStatus`, never string literals at the callers.
- A store that cannot be used (not a newsbot database, corrupt, locked, read-only, unreachable)
  raises `bot.errors.StoreError` with the location and the fix; it is never reset silently.

Engines live beside this module, one per file (bot/state/sqlite.py, bot/state/postgres.py);
`bot.state.open_store` picks one from NEWSBOT_DB. Row <-> value conversions shared by the engines
are in bot/state/rows.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.matching.cluster_index import AlertedReport as AlertedReport  # the index's contract
from bot.matching.cluster_index import Reports as Reports
from bot.matching.cluster_index import SeqReport as SeqReport
from bot.models import Alert, Feedback, Post, SlackMessage, Story


class AlertStatus(StrEnum):
    """Where an outbox row stands. Stored as its value (the lower-case word)."""

    PENDING = "pending"  # queued, not tried yet (or tried and known not posted)
    SENDING = "sending"  # a post was attempted and its outcome is unknown: check Slack first
    SENT = "sent"
    PARKED = "parked"  # its channel is broken (not found, archived, bot not in it)
    FAILED = "failed"  # Slack refused it for a reason resending cannot fix
    HELD = "held"  # a digest topic's story, waiting for its digest
    DIGESTED = "digested"  # listed in a digest that was queued


QUEUED = (AlertStatus.PENDING, AlertStatus.SENDING)  # undelivered and due to be tried
ALERT = "alert"  # the kind of a row that is one story's alert (other kinds: roundup.Post.kind)
# How the error of a queued alert set aside because its stored copy is damaged begins.
UNREADABLE_ALERT = "stored alert cannot be read"


@dataclass(frozen=True, slots=True)
class FeedState:
    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    initialized: bool = False
    last_attempt: float | None = None
    last_success: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    next_due: float = 0.0
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    """An outbox row: the alert plus its delivery bookkeeping."""

    seq: int
    alert: Alert
    status: AlertStatus
    attempts: int
    next_attempt: float
    parent_ts: str | None  # the parent's Slack ts when this is a thread reply and it is known
    parent_channel_id: str | None
    created: float
    message: SlackMessage | None = None  # a Post's prebuilt message; None for a story's alert


@dataclass(frozen=True, slots=True)
class Undelivered:
    """Alerts of one channel not in Slack, grouped by status and last error (for status, run)."""

    status: AlertStatus  # pending | sending | parked | failed
    channel: str
    error: str  # the last delivery error code, "" when not tried yet
    count: int
    since: float  # when the oldest of them was queued


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as `newsbot alerts` and `newsbot status` show it."""

    id: str
    topic: str
    channel: str
    status: AlertStatus
    created: float
    delivered: float | None
    channel_id: str | None
    ts: str | None
    error: str
    title: str
    url: str
    source: str
    parent_id: str | None


@dataclass(frozen=True, slots=True)
class PostedAlert:
    """A delivered alert and where it is in Slack, so its reactions can be read back."""

    alert_id: str
    topic: str
    channel: str  # as configured ('#name' or an id)
    channel_id: str
    ts: str
    thread_ts: str | None  # the parent's ts when this alert is a thread reply
    story: Story


class PollWork(Reports, Protocol):
    """One feed's poll, as one transaction (see `Store.poll`)."""

    def unseen(self, stories: Sequence[Story]) -> list[Story]:
        """The stories of this feed not recorded before, in feed order."""
        ...

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
        """Record the poll; returns the alerts actually recorded (queued from `alerts`, held
        for a digest from `held`). An alert whose channel already has the same story (same
        canonical URL, maybe from another feed) is not recorded again. `posts` are queued
        behind the poll's alerts."""
        ...


class DigestWork(Protocol):
    """One topic's digest cut, as one transaction (see `Store.digest`)."""

    def held(self) -> list[Alert]:
        """The alerts held for the topic's digest, in the order recorded."""
        ...

    def cut(self, posts: Sequence[Post], held: Sequence[str]) -> int:
        """Queue a digest's messages and mark the held alerts it lists digested; returns how
        many held alerts it took."""
        ...


class Store(Reports, Protocol):
    """The state of one newsbot deployment (see the module docstring)."""

    @property
    def path(self) -> str:
        """Where the state lives, printable: a file path, or a URL without its password."""
        ...

    def close(self) -> None: ...

    def check_file(self) -> None:
        """Raise StoreError when the state was removed or replaced under the running process."""
        ...

    def lock_waits(self) -> tuple[int, float]:
        """How many times a thread waited for the store, and the seconds spent waiting."""
        ...

    def hold_instance(self, role: str) -> None:
        """Say this process delivers from this state, as `role` ("service", "run --once",
        "digest"), until `close`. SQLite: one such process per file; another raises
        bot.state.instance.InstanceBusy (exit 1) naming the holder. A server engine, where
        replicas share the work through leases, may record the replica instead."""
        ...

    def copy_to_memory(self) -> Store:
        """A private in-memory copy, for --dry-run: it acts on real state but persists nothing."""
        ...

    # units of work
    def poll(self, feed_url: str) -> AbstractContextManager[PollWork]: ...

    def digest(self, topic: str) -> AbstractContextManager[DigestWork]: ...

    # feeds
    def feed_state(self, url: str) -> FeedState: ...

    def all_feed_states(self) -> list[FeedState]: ...

    def any_feed_initialized(self) -> bool: ...

    def record_failure(
        self, url: str, error: str, next_due: float, *, disable: bool = False
    ) -> int:
        """Count one more consecutive failure; returns the new count."""
        ...

    def record_not_modified(self, url: str, next_due: float) -> None: ...

    def enable_feed(self, url: str) -> None: ...

    def unseen(self, feed_url: str, stories: Sequence[Story]) -> list[Story]:
        """The stories of this feed not recorded before, in feed order (a read, no lock)."""
        ...

    def held_counts(self) -> dict[str, int]:
        """Per topic, how many stories wait for its next digest."""
        ...

    # outbox
    def queued_heads(self) -> list[QueuedAlert]:
        """For each channel, its oldest undelivered alert: delivery keeps each channel in order."""
        ...

    def claim_next(self, channel: str, *, due_by: float | None = None) -> QueuedAlert | None:
        """Atomically take `channel`'s oldest undelivered alert (when its next attempt is due by
        `due_by`; None: whenever): mark it `sending`, count the attempt, and return it as it was
        before the claim. None when the channel has nothing (due)."""
        ...

    def mark_sent(self, alert_id: str, channel_id: str, ts: str) -> None: ...

    def mark_retry(self, alert_id: str, error: str, next_attempt: float, *, unknown: bool) -> None:
        """Leave the alert queued; `unknown` keeps it `sending`: the next try checks Slack first."""
        ...

    def mark_failed(self, alert_id: str, error: str) -> None: ...

    def failed(self) -> list[tuple[str, str, str]]:
        """(alert id, channel, error) of alerts Slack refused for good."""
        ...

    def park_channel(self, channel: str, reason: str) -> int: ...

    def unpark_all(self) -> int: ...

    def outbox_depth(self) -> int: ...

    def parked(self) -> list[tuple[str, str, int]]: ...

    def undelivered(self) -> list[Undelivered]: ...

    def recent_alerts(
        self, since: float, *, topic: str | None = None, limit: int | None = None
    ) -> list[AlertRecord]: ...

    def alert_counts_since(self, since: float) -> list[tuple[str, str, AlertStatus, int]]: ...

    def delivered(self) -> list[tuple[str, str, str | None, str]]: ...

    # meta
    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    # readers' feedback
    def posted_since(self, since: float) -> list[PostedAlert]: ...

    def feedback_for(self, alert_ids: Sequence[str]) -> dict[str, Feedback]: ...

    def save_feedback(self, changed: Sequence[Feedback], cleared: Sequence[str]) -> None: ...

    def feedback_list(
        self,
        *,
        since: float | None = None,
        topic: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Feedback]: ...

    def feedback_counts(self) -> list[tuple[str, int, int]]: ...

    # retention
    def prune(self, retention_days: float) -> tuple[int, int]: ...
