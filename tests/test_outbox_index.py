"""Issue 13, item 2: the outbox finds each channel's next alert through the index
alerts_by_status (status, channel, seq), in a time that does not grow with the queue."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.sql import FAILED, PENDING, SENDING, SENT
from bot.state.sqlite import _QUEUED_HEADS
from bot.state.sqlite import SqliteStore as Store
from tests.test_store import alert, poll, story

# What the outbox read before issue 13: the same heads, found by a scan of the pending set.
_REFERENCE = (
    "SELECT seq FROM alerts WHERE seq IN (SELECT min(seq) FROM alerts "
    "WHERE status IN ('pending', 'sending') GROUP BY channel) ORDER BY seq"
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "newsbot.db")
    yield opened
    opened.close()


def test_the_heads_query_only_seeks_in_indexes(store: Store) -> None:
    plan = [row[3] for row in store._db.execute("EXPLAIN QUERY PLAN " + _QUEUED_HEADS)]
    on_alerts = [
        step for step in plan if " alerts" in step or step.startswith(("SCAN a", "SEARCH a"))
    ]
    assert on_alerts
    assert not [step for step in on_alerts if step.startswith("SCAN")], plan
    assert any("alerts_by_status (status=? AND channel>?)" in step for step in plan), plan


def test_the_heads_are_each_channels_oldest_pending_or_sending_alert(store: Store) -> None:
    rng = random.Random(13)
    channels = ["#a", "#b", "#c", "#d", "#e"]
    alerts = [alert(n, rng.choice(channels)) for n in range(1, 400)]
    poll(store, [story(n) for n in range(1, 400)], alerts)
    statuses = [PENDING, SENDING, SENT, FAILED]
    with store._transaction() as db:
        for item in alerts:
            db.execute(
                "UPDATE alerts SET status = ? WHERE id = ?",
                (rng.choices(statuses, [2, 1, 4, 1])[0], item.id),
            )
        db.execute("UPDATE alerts SET status = 'sent' WHERE channel = '#e'")  # nothing queued
    expected = [row[0] for row in store._db.execute(_REFERENCE)]
    heads = store.queued_heads()
    assert [q.seq for q in heads] == expected
    assert len(heads) == 4
    assert {q.status for q in heads} <= {PENDING, SENDING}
