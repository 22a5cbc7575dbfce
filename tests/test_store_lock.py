"""Issue 13, item 4: waits for the store's lock are counted and exported in /metrics."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.service.metrics import Metrics
from bot.state.sqlite import SqliteStore as Store
from tests.test_metrics import value


def test_a_thread_that_waits_for_the_store_is_counted_and_exported(tmp_path: Path) -> None:
    store = Store(tmp_path / "newsbot.db")
    metrics = Metrics()
    metrics.watch_store(store.lock_waits)
    try:
        assert value(metrics, "newsbot_store_lock_waits_total") == 0.0
        store.outbox_depth()  # an uncontended read does not wait
        assert store.lock_waits() == (0, 0.0)
        holding, done = threading.Event(), threading.Event()

        def hold() -> None:
            with store.poll("https://feed.example/rss"):
                holding.set()
                done.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(5)
        reader = threading.Thread(target=store.outbox_depth)
        reader.start()
        reader.join(1.0)  # blocked behind the transaction
        assert reader.is_alive()
        done.set()
        reader.join(5)
        holder.join(5)
        waits, seconds = store.lock_waits()
        assert waits == 1
        assert seconds > 0
        assert value(metrics, "newsbot_store_lock_waits_total") == 1.0
        assert value(metrics, "newsbot_store_lock_wait_seconds_total") == seconds
    finally:
        store.close()
