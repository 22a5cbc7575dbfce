"""The store's contract (bot/state/interface.py), run against every engine.

Each test opens its store with `open_store`, as newsbot does, and uses only the interface: what
passes here for SQLite must pass for PostgreSQL. The PostgreSQL runs need a real server
(tests/pgserver.py, started on a loopback port); where none can be had they are skipped with the
reason shown.
"""

from __future__ import annotations

import importlib
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Alert, Feedback, Match, Post, SlackMessage, Story, TermHit, Verdict
from bot.state import open_store
from bot.state.interface import AlertStatus, Store

FEED = "https://feed.example/rss"
OTHER_FEED = "https://other.example/rss"
ENGINES = ["sqlite", "postgres"]


def postgres_target(request: pytest.FixtureRequest) -> str:
    """A fresh database on the test PostgreSQL server (tests/pgserver.py's `pg_url`), or a skip
    saying why there is none."""
    try:
        importlib.import_module("bot.state.postgres")
    except ImportError:
        pytest.skip("PostgreSQL engine (bot/state/postgres.py) is not in this build")
    try:
        url: str = request.getfixturevalue("pg_url")
    except pytest.FixtureLookupError:
        pytest.skip("no PostgreSQL test server fixture (tests/pgserver.py's pg_url) in this build")
    return url


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return postgres_target(request)
    return str(tmp_path / "state" / "newsbot.db")


@pytest.fixture
def store(target: str) -> Iterator[Store]:
    opened = open_store(target)
    yield opened
    opened.close()


def story(n: int, url: str | None = None) -> Story:
    return Story(
        f"id-{n}",
        url if url is not None else f"https://news.example/{n}",
        f"Title {n}",
        "Summary",
        "Outlet",
        datetime(2026, 1, n % 27 + 1, tzinfo=UTC),
        FEED,
    )


def alert(
    n: int, channel: str = "#a", *, parent: str | None = None, url: str | None = None
) -> Alert:
    match = Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0, "legal"),))
    return Alert(f"alert-{channel}-{n}", "topic", channel, story(n, url), match, parent)


def record(
    store: Store,
    alerts: list[Alert],
    *,
    stories: list[Story] | None = None,
    held: list[Alert] | None = None,
    posts: list[Post] | None = None,
    feed: str = FEED,
    etag: str | None = "e1",
) -> list[Alert]:
    with store.poll(feed) as tx:
        return tx.record(
            title="Feed",
            etag=etag,
            last_modified="Tue, 01 Dec 2026 10:00:00 GMT",
            stories=stories if stories is not None else [a.story for a in alerts],
            alerts=alerts,
            held=held or [],
            posts=posts or [],
            next_due=0.0,
        )


# --- one poll, one unit of work -----------------------------------------------------------------


def test_a_poll_records_validators_seen_stories_and_alerts_together(store: Store) -> None:
    recorded = record(store, [alert(1)], stories=[story(1), story(2)])
    assert [a.id for a in recorded] == ["alert-#a-1"]
    state = store.feed_state(FEED)
    assert (state.etag, state.initialized, state.title) == ("e1", True, "Feed")
    assert store.unseen(FEED, [story(1), story(2), story(3)]) == [story(3)]
    assert store.outbox_depth() == 1


def crash_mid_poll(store: Store) -> None:
    with store.poll(FEED) as tx:
        tx.record(
            title="Feed",
            etag="new",
            last_modified=None,
            stories=[story(1)],
            alerts=[alert(1)],
            next_due=0.0,
        )
        raise RuntimeError("crash after recording, before the commit")


def test_a_poll_that_fails_midway_records_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError):
        crash_mid_poll(store)
    assert store.feed_state(FEED).etag is None
    assert store.unseen(FEED, [story(1)]) == [story(1)]
    assert store.outbox_depth() == 0


def test_inside_a_poll_the_unit_of_work_reads_what_is_recorded(store: Store) -> None:
    record(store, [alert(1)])
    with store.poll(FEED) as tx:
        assert tx.unseen([story(1), story(2)]) == [story(2)]
        assert [r.story.title for r in tx.prior_reports("#a", 0.0)] == ["Title 1"]
        assert tx.last_alert_seq() > 0


def test_a_story_is_queued_once_per_channel_across_feeds(store: Store) -> None:
    assert len(record(store, [alert(1)])) == 1
    same_url = alert(2, url="https://news.example/1")  # the same story from another feed
    assert record(store, [same_url, alert(3, "#b", url="https://news.example/1")], feed=OTHER_FEED)
    assert [a.id for a in record(store, [alert(1)])] == []
    assert store.outbox_depth() == 2  # #a once, #b once


def test_an_alert_round_trips_through_the_outbox(store: Store) -> None:
    original = alert(7)
    record(store, [original])
    (head,) = store.queued_heads()
    assert head.alert == original
    assert head.status is AlertStatus.PENDING
    assert head.message is None


# --- the outbox ---------------------------------------------------------------------------------


def test_claim_next_takes_the_channels_oldest_alert_and_marks_it_sending(store: Store) -> None:
    record(store, [alert(1), alert(2), alert(3, "#b")])
    claimed = store.claim_next("#a")
    assert claimed is not None
    assert (claimed.alert.id, claimed.status, claimed.attempts) == (
        "alert-#a-1",
        AlertStatus.PENDING,
        0,
    )
    again = store.claim_next("#a")  # its outcome is unknown: it is still the channel's head
    assert again is not None
    assert (again.alert.id, again.status, again.attempts) == ("alert-#a-1", AlertStatus.SENDING, 1)
    store.mark_sent("alert-#a-1", "C1", "1.0001")
    following = store.claim_next("#a")
    assert following is not None
    assert following.alert.id == "alert-#a-2"
    assert [q.alert.id for q in store.queued_heads()] == ["alert-#a-2", "alert-#b-3"]


def test_claim_next_waits_for_the_alerts_next_attempt(store: Store) -> None:
    record(store, [alert(1)])
    store.mark_retry("alert-#a-1", "ratelimited", 5_000.0, unknown=False)
    assert store.claim_next("#a", due_by=4_999.0) is None
    assert store.queued_heads()[0].status is AlertStatus.PENDING  # not taken
    claimed = store.claim_next("#a", due_by=5_000.0)
    assert claimed is not None
    assert claimed.alert.id == "alert-#a-1"
    assert store.claim_next("#none") is None


def test_claims_racing_from_many_threads_take_each_queued_alert_once(target: str) -> None:
    channels = [f"#c{n}" for n in range(40)]
    setup = open_store(target)
    record(setup, [alert(n, channel) for n, channel in enumerate(channels)])
    setup.close()
    fresh: list[str] = []  # alerts a claim found still pending: only one claim may
    lock = threading.Lock()

    def claimer(seed: int) -> None:
        store = open_store(target)
        try:
            order = channels[:]
            random.Random(seed).shuffle(order)
            for channel in order:
                claimed = store.claim_next(channel)
                if claimed is not None and claimed.status is AlertStatus.PENDING:
                    with lock:
                        fresh.append(claimed.alert.id)
        finally:
            store.close()

    threads = [threading.Thread(target=claimer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(fresh) == sorted(f"alert-{c}-{n}" for n, c in enumerate(channels))


def test_a_reply_carries_its_parents_place_in_slack(store: Store) -> None:
    record(store, [alert(1), alert(2, parent="alert-#a-1")])
    store.mark_sent("alert-#a-1", "C1", "111.222")
    claimed = store.claim_next("#a")
    assert claimed is not None
    assert (claimed.alert.parent_id, claimed.parent_ts, claimed.parent_channel_id) == (
        "alert-#a-1",
        "111.222",
        "C1",
    )


def test_unknown_outcomes_stay_sending_and_parked_channels_come_back(store: Store) -> None:
    record(store, [alert(1), alert(2, "#b")])
    assert store.claim_next("#a") is not None
    store.mark_retry("alert-#a-1", "timeout", 0.0, unknown=True)
    assert store.queued_heads()[0].status is AlertStatus.SENDING
    assert store.park_channel("#b", "channel_not_found") == 1
    assert [q.alert.channel for q in store.queued_heads()] == ["#a"]
    assert store.parked() == [("#b", "channel_not_found", 1)]
    statuses = {(u.status, u.channel) for u in store.undelivered()}
    assert statuses == {(AlertStatus.SENDING, "#a"), (AlertStatus.PARKED, "#b")}
    assert store.unpark_all() == 1
    assert {q.status for q in store.queued_heads()} == {AlertStatus.SENDING}


def test_a_refused_alert_is_kept_as_failed_and_the_channel_goes_on(store: Store) -> None:
    record(store, [alert(1), alert(2)])
    store.mark_failed("alert-#a-1", "msg_too_long")
    assert store.failed() == [("alert-#a-1", "#a", "msg_too_long")]
    claimed = store.claim_next("#a")
    assert claimed is not None
    assert claimed.alert.id == "alert-#a-2"
    (record_,) = [r for r in store.recent_alerts(0) if r.id == "alert-#a-1"]
    assert (record_.status, record_.error) == (AlertStatus.FAILED, "msg_too_long")


@pytest.mark.parametrize("damage", ["{not json", '{"story": {}}'], ids=["bad-json", "fields"])
def test_a_queued_alert_that_cannot_be_read_is_set_aside_and_the_channel_goes_on(
    store: Store, damage: str
) -> None:
    """A damaged payload would stop its channel for good: the heads of the outbox and a claim
    both set it aside as failed, with the reason, on every engine (issue 11 #10)."""
    record(store, [alert(1), alert(2), alert(3, "#b")])
    # Damage one stored copy, as a disk or an old version could: the engines' own write.
    store._write(  # type: ignore[attr-defined]
        "UPDATE alerts SET payload = ? WHERE id = ?", (damage, "alert-#a-1")
    )
    heads = store.queued_heads()
    assert sorted(h.alert.id for h in heads) == ["alert-#a-2", "alert-#b-3"]
    [(alert_id, channel, error)] = store.failed()
    assert (alert_id, channel) == ("alert-#a-1", "#a")
    assert "cannot be read" in error
    claimed = store.claim_next("#a")
    assert claimed is not None
    assert claimed.alert.id == "alert-#a-2"


def test_posts_are_queued_behind_the_polls_alerts_with_their_message(store: Store) -> None:
    more = Post("more-1", "more", "topic", "#a", SlackMessage("and 3 more", None), "and 3 more")
    record(store, [alert(1)], posts=[more])
    store.mark_sent("alert-#a-1", "C1", "1.1")
    (head,) = store.queued_heads()
    assert head.alert.id == "more-1"
    assert head.message == SlackMessage("and 3 more", None)


# --- digests ------------------------------------------------------------------------------------


def test_a_digest_takes_each_held_story_once(store: Store) -> None:
    record(store, [], held=[alert(1), alert(2)])
    assert store.held_counts() == {"topic": 2}
    assert store.outbox_depth() == 0
    digest = Post("digest-1", "digest", "topic", "#a", SlackMessage("digest", []), "digest")
    with store.digest("topic") as tx:
        held = tx.held()
        assert [a.id for a in held] == ["alert-#a-1", "alert-#a-2"]
        assert tx.cut([digest], [a.id for a in held]) == 2
    assert store.held_counts() == {}
    assert store.outbox_depth() == 1
    with store.digest("topic") as tx:
        assert tx.held() == []
        assert tx.cut([digest], ["alert-#a-1"]) == 0  # already digested; the post once
    assert store.outbox_depth() == 1


# --- the clustering reads -----------------------------------------------------------------------


def test_prior_reports_and_reports_after_read_the_alerted_stories(store: Store) -> None:
    record(store, [alert(1), alert(2, parent="alert-#a-1"), alert(3, "#b")])
    reports = store.prior_reports("#a", 0.0)
    assert [(r.alert_id, r.story.title) for r in reports] == [
        ("alert-#a-1", "Title 1"),
        ("alert-#a-1", "Title 2"),  # a reply reports its parent's event
    ]
    assert reports[1].event_start == reports[0].published
    after = store.reports_after(0, 0.0)
    assert [(r.channel, r.report.story.title) for r in after] == [
        ("#a", "Title 1"),
        ("#a", "Title 2"),
        ("#b", "Title 3"),
    ]
    assert store.reports_after(after[-1].seq, 0.0) == []
    assert store.last_alert_seq() == after[-1].seq
    # In pages: the first `limit`, then the rest after the last seq read.
    first = store.reports_after(0, 0.0, 2)
    assert first == after[:2]
    assert store.reports_after(first[-1].seq, 0.0, 2) == after[2:]


# --- feeds, meta, feedback, retention -----------------------------------------------------------


def test_feed_failures_count_up_and_a_good_poll_resets_them(store: Store) -> None:
    assert store.record_failure(FEED, "timeout", 100.0) == 1
    assert store.record_failure(FEED, "gone", 200.0, disable=True) == 2
    state = store.feed_state(FEED)
    assert (state.disabled, state.last_error, state.next_due) == (True, "gone", 200.0)
    store.enable_feed(FEED)
    assert not store.feed_state(FEED).disabled
    store.record_not_modified(FEED, 0.0)
    assert store.feed_state(FEED).consecutive_failures == 0
    assert [s.url for s in store.all_feed_states()] == [FEED]


def test_meta_values_are_replaced(store: Store) -> None:
    assert store.meta("slack_workspace_url") is None
    store.set_meta("slack_workspace_url", "https://a.slack.com/")
    store.set_meta("slack_workspace_url", "https://b.slack.com/")
    assert store.meta("slack_workspace_url") == "https://b.slack.com/"


def test_feedback_is_saved_listed_and_cleared(store: Store) -> None:
    verdict = Verdict("irrelevant", 0, 2, ("irrelevant:U1", "irrelevant:U2"))
    item = Feedback("alert-#a-1", "topic", "#a", story(1), verdict, 2000.0)
    store.save_feedback([item], [])
    assert store.feedback_list() == [item]
    assert store.feedback_for(["alert-#a-1", "nope"]) == {"alert-#a-1": item}
    assert store.feedback_counts() == [("topic", 0, 1)]
    store.save_feedback([], ["alert-#a-1"])
    assert store.feedback_list() == []


def test_prune_forgets_delivered_alerts_and_keeps_undelivered_ones(store: Store) -> None:
    record(store, [alert(1), alert(2)])
    store.mark_sent("alert-#a-1", "C1", "1.1")
    assert store.prune(retention_days=-1) == (2, 1)  # everything is older than "tomorrow"
    assert [q.alert.id for q in store.queued_heads()] == ["alert-#a-2"]
    assert store.delivered() == []


def test_a_store_that_is_not_newsbots_is_refused_not_reset(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not a healthy newsbot database"):
        open_store(path)
    assert path.read_bytes() == b"not a database at all" * 100
