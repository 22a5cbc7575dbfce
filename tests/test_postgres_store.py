"""The PostgreSQL engine (bot/state/postgres.py) on a real server: what it adds to the store's
contract: schema made and versioned by newsbot, somebody else's database refused, two stores
(two replicas) racing on one story or one digest, an unreachable server, text PostgreSQL cannot
hold, and the password kept out of what is shown."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from bot.alerts.format import SlackMessage
from bot.alerts.roundup import Post
from bot.errors import StoreError, StoreUnreachable
from bot.matching.cluster_index import ReportIndex
from bot.models import Alert, Match, Story, TermHit
from bot.state.interface import AlertStatus, PollWork
from bot.state.postgres import PostgresStore
from tests.pgserver import PgServer

FEED = "https://feed.example/rss"


def story(n: int, title: str = "") -> Story:
    return Story(
        f"id-{n}",
        f"https://news.example/{n}",
        title or f"Title {n}",
        "Summary",
        "Outlet",
        datetime(2026, 1, n % 27 + 1, tzinfo=UTC),
        FEED,
    )


def alert(n: int, channel: str = "#a", title: str = "") -> Alert:
    match = Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0),))
    return Alert(f"alert-{channel}-{n}", "topic", channel, story(n, title), match)


def record(
    store: PostgresStore, alerts: list[Alert], *, held: bool = False, feed: str = FEED
) -> list[Alert]:
    with store.poll(feed) as tx:
        return record_in(tx, alerts, held=held)


def record_in(tx: PollWork, alerts: list[Alert], *, held: bool = False) -> list[Alert]:
    """`alerts` recorded by a poll already open (queued, or held for a digest)."""
    return tx.record(
        title="Feed",
        etag="e1",
        last_modified=None,
        stories=[a.story for a in alerts],
        alerts=[] if held else alerts,
        held=alerts if held else [],
        next_due=0,
    )


@pytest.fixture
def stores(pg_url: str) -> Iterator[Callable[[], PostgresStore]]:
    """`open()` another store on the test's database (another replica); all closed after."""
    opened: list[PostgresStore] = []

    def open_one() -> PostgresStore:
        opened.append(PostgresStore(pg_url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def test_the_schema_is_created_once_and_versioned(stores: Callable[[], PostgresStore]) -> None:
    first, second = stores(), stores()
    assert first.meta("schema_version") == "1"
    record(first, [alert(1)])
    assert second.outbox_depth() == 1  # the second open found the schema and kept the rows


def test_somebody_elses_database_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(StoreError, match="not newsbot's schema") as caught:
        PostgresStore(pg_url)
    assert "CREATE DATABASE" in str(caught.value)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("invoices",)]


def test_a_newer_schema_is_refused(stores: Callable[[], PostgresStore], pg_url: str) -> None:
    stores().set_meta("schema_version", "99")
    with pytest.raises(StoreError, match="newer than this newsbot"):
        PostgresStore(pg_url)


def test_two_replicas_recording_one_story_queue_it_once(
    stores: Callable[[], PostgresStore],
) -> None:
    replicas = [stores() for _ in range(4)]
    recorded: list[list[Alert]] = []
    barrier = threading.Barrier(len(replicas))

    def poll(store: PostgresStore) -> None:
        barrier.wait()
        recorded.append(record(store, [alert(n) for n in range(20)]))

    threads = [threading.Thread(target=poll, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(batch) for batch in recorded) == 20
    assert replicas[0].outbox_depth() == 20


def test_claims_of_one_channel_take_each_pending_alert_once(
    stores: Callable[[], PostgresStore],
) -> None:
    one, two = stores(), stores()
    record(one, [alert(n) for n in range(10)])
    taken: list[str] = []
    lock = threading.Lock()

    def drain(store: PostgresStore) -> None:
        while (claimed := store.claim_next("#a")) is not None:
            if claimed.status is AlertStatus.SENDING:
                return  # a claimed alert's outcome is unknown: this test stops there
            with lock:
                taken.append(claimed.alert.id)
            store.mark_sent(claimed.alert.id, "C1", f"{len(taken)}.0")

    threads = [threading.Thread(target=drain, args=(store,)) for store in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [row[0] for row in one.delivered()]
    assert len(set(taken)) == len(taken)
    assert set(sent) == set(taken)


def test_a_digest_cut_twice_at_once_lists_each_story_once(
    stores: Callable[[], PostgresStore],
) -> None:
    one, two = stores(), stores()
    record(one, [alert(n) for n in range(5)], held=True)
    taken: list[int] = []
    barrier = threading.Barrier(2)

    def cut(store: PostgresStore, name: str) -> None:
        barrier.wait()
        with store.digest("topic") as tx:
            held = tx.held()
            posts = [  # ids of this cutter's own: only the lock keeps the second from queueing
                Post(f"{name}-{a.id}", "digest", "topic", "#a", SlackMessage(a.story.title), "d")
                for a in held
            ]
            taken.append(tx.cut(posts, [a.id for a in held]))

    threads = [
        threading.Thread(target=cut, args=(store, name))
        for store, name in ((one, "one"), (two, "two"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [0, 5]
    assert one.outbox_depth() == 5  # five digest lines queued, not ten


def test_an_unreachable_server_is_an_error_and_the_store_comes_back(
    pg_server: PgServer, stores: Callable[[], PostgresStore]
) -> None:
    store = stores()
    record(store, [alert(1)])
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'newsbot' AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StoreUnreachable, match="unreachable"):
        store.outbox_depth()
    assert store.outbox_depth() == 1  # the next call opened a new connection


def test_a_missing_database_names_the_fix_without_the_password(pg_server: PgServer) -> None:
    url = pg_server.url("nope").replace("newsbot@", "newsbot:s3cret-pw@")
    with pytest.raises(StoreUnreachable) as caught:
        PostgresStore(url)
    message = str(caught.value)
    assert "createdb" in message
    assert "s3cret-pw" not in message
    assert "***@127.0.0.1" in message


def test_nul_characters_are_stored_as_replacement_characters(
    stores: Callable[[], PostgresStore],
) -> None:
    store = stores()
    assert record(store, [alert(1, title="A\x00B")])
    (head,) = store.queued_heads()
    assert head.alert.story.title == "A\x00B"  # inside the JSON payload: escaped, kept
    store.set_meta("note", "x\x00y")
    assert store.meta("note") == "x\ufffdy"


def test_dry_run_works_on_an_sqlite_copy(stores: Callable[[], PostgresStore]) -> None:
    store = stores()
    record(store, [alert(1), alert(2)])
    copy = store.copy_to_memory()
    try:
        claimed = copy.claim_next("#a")
        assert claimed is not None
        copy.mark_sent(claimed.alert.id, "C1", "1.0")
        assert [row[0] for row in copy.delivered()] == ["alert-#a-1"]
    finally:
        copy.close()
    assert store.delivered() == []
    assert store.outbox_depth() == 2


def test_the_engine_offers_every_method_of_the_store_interface() -> None:
    """`open_store` hands the engine out typed as the interface: what it lacks mypy cannot see."""
    from bot.state.interface import Store

    wanted = {
        name for name in dir(Store) if not name.startswith("_") and callable(getattr(Store, name))
    }
    assert wanted - set(dir(PostgresStore)) == set()


def test_the_clustering_index_misses_no_alert_another_replica_commits_late(
    stores: Callable[[], PostgresStore],
) -> None:
    """Replica B records an alert in a poll still open while replica C records another: the
    index (replica A) catching up in between must still find B's alert once B commits. Its
    "since" query reads by sequence number, so the alerts must commit in that order."""
    reader, slow, fast = stores(), stores(), stores()
    since = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    index = ReportIndex(lambda: since)
    assert index.reports(reader, "#a", since) == []  # loaded, empty
    fast_done = threading.Event()

    def fast_records() -> None:  # another feed: no row of the open poll in its way
        record(fast, [alert(2)], feed="https://other.example/rss")
        fast_done.set()

    with slow.poll(FEED) as tx:
        record_in(tx, [alert(1)])
        other = threading.Thread(target=fast_records)
        other.start()
        fast_done.wait(1.0)  # it may commit now, or wait for this poll to commit first
        with reader.poll(FEED) as between:
            index.catch_up(between)
    other.join(10)
    assert fast_done.is_set()
    with reader.poll(FEED) as after:
        index.catch_up(after)
        held = index.reports(after, "#a", since, refresh=False)
    assert sorted(r.title for r in held) == ["Title 1", "Title 2"]
