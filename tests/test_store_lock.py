"""Issue 13, item 3: waits for the store's write lock are counted and exported in /metrics;
reads outside a write transaction do not wait for it (SQLite WAL: they read the last commit)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.service.metrics import Metrics
from bot.state.sqlite import SqliteStore as Store
from tests.test_metrics import value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "newsbot.db")
    yield opened
    opened.close()


FEED = "https://feed.example/rss"


class Holder:
    """Another thread inside a poll's write transaction (it recorded the feed's title "new",
    not yet committed) until the `with` block ends."""

    def __init__(self, store: Store) -> None:
        self._holding, self._done = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(store,))

    def _hold(self, store: Store) -> None:
        with store.poll(FEED) as tx:
            tx.record(title="new", etag=None, last_modified=None, stories=[], alerts=[], next_due=0)
            self._holding.set()
            self._done.wait(5)

    def __enter__(self) -> Holder:
        self._thread.start()
        assert self._holding.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)


def test_a_writer_that_waits_for_the_store_is_counted_and_exported(store: Store) -> None:
    metrics = Metrics()
    metrics.watch_store(store.lock_waits)
    assert value(metrics, "newsbot_store_lock_waits_total") == 0.0
    store.set_meta("k", "1")  # an uncontended write does not wait
    assert store.lock_waits() == (0, 0.0)
    with Holder(store):
        writer = threading.Thread(target=store.set_meta, args=("k", "2"))
        writer.start()
        writer.join(1.0)  # blocked behind the transaction
        assert writer.is_alive()
    writer.join(5)
    waits, seconds = store.lock_waits()
    assert waits == 1
    assert seconds > 0
    assert store.meta("k") == "2"
    assert value(metrics, "newsbot_store_lock_waits_total") == 1.0
    assert value(metrics, "newsbot_store_lock_wait_seconds_total") == seconds


def test_a_read_during_another_threads_write_transaction_reads_the_last_commit(
    store: Store,
) -> None:
    with store.poll(FEED) as tx:
        tx.record(title="old", etag=None, last_modified=None, stories=[], alerts=[], next_due=0)
    found: list[str | None] = []
    with Holder(store):
        reader = threading.Thread(target=lambda: found.append(store.feed_state(FEED).title))
        reader.start()
        reader.join(2.0)
        assert not reader.is_alive()  # it did not wait for the transaction
    assert found == ["old"]  # the last commit, not the open transaction's write
    assert store.lock_waits() == (0, 0.0)
    assert store.feed_state(FEED).title == "new"  # committed now


def test_a_read_inside_the_threads_own_transaction_sees_its_writes(store: Store) -> None:
    with store.poll(FEED) as tx:
        tx.record(title="mine", etag=None, last_modified=None, stories=[], alerts=[], next_due=0)
        assert store.feed_state(FEED).title == "mine"  # uncommitted, read by its own thread


def test_an_in_memory_copy_reads_through_its_one_connection(store: Store) -> None:
    store.set_meta("k", "v")
    copy = store.copy_to_memory()
    try:
        copy.set_meta("k", "copy")
        assert copy.meta("k") == "copy"
        assert store.meta("k") == "v"
    finally:
        copy.close()
