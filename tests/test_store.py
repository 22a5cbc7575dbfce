"""The state store: atomic polls, one alert per story and channel, clear errors, never a reset."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Alert, Match, Story, TermHit
from bot.state.sql import PARKED, SENDING
from bot.state.sqlite import SqliteStore as Store


def story(n: int, url: str | None = None) -> Story:
    return Story(
        f"id-{n}",
        url if url is not None else f"https://news.example/{n}",
        f"Title {n}",
        "Summary",
        "Outlet",
        datetime(2026, 1, n % 27 + 1, tzinfo=UTC),
        "https://feed.example/rss",
    )


def alert(n: int, channel: str = "#a", parent: str | None = None, url: str | None = None) -> Alert:
    return Alert(
        f"alert-{channel}-{n}",
        "topic",
        channel,
        story(n, url),
        Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0),)),
        parent,
    )


def poll(store: Store, stories: list[Story], alerts: list[Alert], etag: str = "e1") -> list[Alert]:
    with store.poll("https://feed.example/rss") as tx:
        return tx.record(
            title="Feed",
            etag=etag,
            last_modified=None,
            stories=stories,
            alerts=alerts,
            next_due=0,
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "state" / "newsbot.db")
    yield opened
    opened.close()


def test_a_poll_records_etag_seen_stories_and_alerts_together(store: Store) -> None:
    queued = poll(store, [story(1), story(2)], [alert(1)])
    assert [a.id for a in queued] == ["alert-#a-1"]
    state = store.feed_state("https://feed.example/rss")
    assert (state.etag, state.initialized, state.title) == ("e1", True, "Feed")
    assert store.unseen("https://feed.example/rss", [story(1), story(2), story(3)]) == [story(3)]
    assert store.outbox_depth() == 1


def crash_mid_poll(store: Store) -> None:
    with store.poll("https://feed.example/rss") as tx:
        tx.record(
            title=None,
            etag="new",
            last_modified=None,
            stories=[story(1)],
            alerts=[alert(1)],
            next_due=0,
        )
        raise RuntimeError("crash before commit")


def test_a_failed_poll_transaction_records_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="crash before commit"):
        crash_mid_poll(store)
    assert store.feed_state("https://feed.example/rss").etag is None
    assert store.outbox_depth() == 0
    assert store.unseen("https://feed.example/rss", [story(1)]) == [story(1)]


def test_the_same_story_is_queued_once_per_channel_across_feeds(store: Store) -> None:
    assert len(poll(store, [story(1)], [alert(1), alert(1, "#b")])) == 2
    duplicate = Alert("other-id", "topic", "#a", story(1), alert(1).match)
    assert poll(store, [], [duplicate]) == []  # same canonical URL, same channel
    assert store.outbox_depth() == 2


def test_outbox_heads_keep_each_channel_in_order(store: Store) -> None:
    poll(store, [], [alert(1), alert(2), alert(3, "#b"), alert(4)])
    heads = store.queued_heads()
    assert [q.alert.id for q in heads] == ["alert-#a-1", "alert-#b-3"]
    assert store.claim_next("#a") is not None
    store.mark_sent("alert-#a-1", "C1", "1.0001")
    assert [q.alert.id for q in store.queued_heads()] == ["alert-#a-2", "alert-#b-3"]


def test_a_reply_carries_its_parents_ts(store: Store) -> None:
    poll(store, [], [alert(1), alert(2, parent="alert-#a-1")])
    store.mark_sent("alert-#a-1", "C1", "111.222")
    (head,) = store.queued_heads()
    assert (head.alert.parent_id, head.parent_ts, head.parent_channel_id) == (
        "alert-#a-1",
        "111.222",
        "C1",
    )


def test_unknown_outcome_stays_sending_and_parked_channels_come_back(store: Store) -> None:
    poll(store, [], [alert(1), alert(2, "#b")])
    assert store.claim_next("#a") is not None
    store.mark_retry("alert-#a-1", "timeout", 0, unknown=True)
    assert store.queued_heads()[0].status == SENDING
    assert store.park_channel("#b", "channel_not_found") == 1
    assert [q.alert.channel for q in store.queued_heads()] == ["#a"]
    assert store.parked() == [("#b", "channel_not_found", 1)]
    assert store.unpark_all() == 1
    assert {q.alert.channel for q in store.queued_heads()} == {"#a", "#b"}
    assert PARKED not in {q.status for q in store.queued_heads()}


def test_alert_round_trips_through_the_outbox(store: Store) -> None:
    original = alert(7)
    poll(store, [], [original])
    assert store.queued_heads()[0].alert == original


def test_prune_forgets_old_seen_stories_and_delivered_alerts(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = Store(tmp_path / "p.db", clock=lambda: now[0])
    poll(store, [story(1)], [alert(1), alert(2)])
    store.mark_sent("alert-#a-1", "C1", "1.1")
    now[0] += 31 * 86400
    assert store.prune(30) == (1, 1)  # the undelivered alert is kept, whatever its age
    assert store.outbox_depth() == 1
    store.close()


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store(path)
    poll(first, [story(1)], [alert(1)])
    first.close()
    second = Store(path)
    assert second.outbox_depth() == 1
    assert second.any_feed_initialized()
    second.close()


OPEN_ERRORS = [
    ("garbage-file", b"this is not a database at all" * 100, "not a healthy newsbot database"),
    ("other-sqlite-db", None, "not newsbot's"),
]


@pytest.mark.parametrize(
    ("content", "expected"), [(c, e) for _, c, e in OPEN_ERRORS], ids=[n for n, _, _ in OPEN_ERRORS]
)
def test_a_foreign_or_corrupt_file_is_refused_and_left_untouched(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "state.db"
    if content is None:
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE mine (x)")
        other.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=expected):
        Store(path)
    assert path.read_bytes() == before


def test_a_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="another newsbot"):
            Store(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_version_1_database_is_migrated_and_keeps_its_alerts(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = Store(path)
    poll(old, [story(1)], [alert(1)])
    old.close()
    raw = sqlite3.connect(path)  # the schema as the previous release left it: no `kind` column
    raw.execute("ALTER TABLE alerts DROP COLUMN kind")
    raw.execute("DROP TABLE feedback")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    again = Store(path)
    (head,) = again.queued_heads()
    assert head.alert.id == "alert-#a-1"
    assert head.message is None  # a story's alert, rendered at delivery
    assert again.unseen("https://feed.example/rss", [story(1)]) == []
    again.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
        columns = [row[1] for row in raw.execute("PRAGMA table_info(alerts)")]
    raw.close()
    assert "kind" in columns
