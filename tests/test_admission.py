"""The admission rule (alerts/admission.py): first-poll window and per-poll cap, table-driven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.alerts.admission import PollPolicy, admit
from bot.config import load_config
from tests.helpers import ROOT, write_config

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def P(hours: float = 24, cap: int = 20) -> PollPolicy:
    return PollPolicy(hours, cap)


@dataclass(frozen=True)
class Case:
    name: str
    ages: list[float | None]  # hours before NOW per item (None: undated); items are "s0", "s1"...
    first_poll: bool
    policy: PollPolicy
    alert: list[str]
    skipped: list[str]
    overflow: list[str]


CASES = [
    Case(
        "later poll alerts everything new", [1, 500, None], False, P(), ["s0", "s1", "s2"], [], []
    ),
    Case(
        "first poll: recent alerted, old and undated skipped",
        [1, 240, None, 23.9],
        True,
        P(),
        ["s0", "s3"],
        ["s1", "s2"],
        [],
    ),
    Case(
        "first poll: 10-day-old feed posts nothing",
        [240, 241, 250],
        True,
        P(),
        [],
        ["s0", "s1", "s2"],
        [],
    ),
    Case("first poll: the window is the policy's", [30, 50], True, P(hours=48), ["s0"], ["s1"], []),
    Case(
        "first poll: window 0 alerts nothing older than now",
        [0.5, -1],
        True,
        P(hours=0),
        ["s1"],
        ["s0"],
        [],
    ),
    Case(
        "cap keeps the newest, the rest overflow",
        [5, 1, 3, 2, 4],
        False,
        P(cap=2),
        ["s1", "s3"],
        [],
        ["s0", "s2", "s4"],
    ),
    Case(
        "cap counts after the first-poll window",
        [1, 2, 3, 100],
        True,
        P(cap=2),
        ["s0", "s1"],
        ["s3"],
        ["s2"],
    ),
    Case(
        "cap: undated counts as newest on a later poll",
        [1, None, 2],
        False,
        P(cap=1),
        ["s1"],
        [],
        ["s0", "s2"],
    ),
    Case(
        "cap: equal times keep the feed's order",
        [1, 1, 1],
        False,
        P(cap=2),
        ["s0", "s1"],
        [],
        ["s2"],
    ),
    Case("at the cap exactly: no overflow", [1, 2], False, P(cap=2), ["s0", "s1"], [], []),
    Case("nothing in, nothing out", [], True, P(), [], [], []),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_admission(case: Case) -> None:
    items = [
        (f"s{n}", None if age is None else NOW - timedelta(hours=age))
        for n, age in enumerate(case.ages)
    ]
    decision = admit(items, first_poll=case.first_poll, now=NOW, policy=case.policy)
    assert list(decision.alert) == case.alert
    assert [entry.item for entry in decision.skipped] == case.skipped
    assert list(decision.overflow) == case.overflow


def test_every_item_lands_in_exactly_one_part() -> None:
    items = [(f"s{n}", NOW - timedelta(hours=n * 7)) for n in range(30)]
    decision = admit(items, first_poll=True, now=NOW, policy=PollPolicy(24, 3))
    parts = [*decision.alert, *(s.item for s in decision.skipped), *decision.overflow]
    assert sorted(parts) == sorted(item for item, _ in items)


@pytest.mark.parametrize(
    ("age", "reason"),
    [
        (None, "first poll: no publication date"),
        (240, "first poll: published 10 days ago, before the 24 h backfill window"),
        (30, "first poll: published 30 h ago, before the 24 h backfill window"),
    ],
)
def test_the_reason_says_why_in_words(age: float | None, reason: str) -> None:
    published = None if age is None else NOW - timedelta(hours=age)
    (skipped,) = admit([("s", published)], first_poll=True, now=NOW, policy=P()).skipped
    assert skipped.reason == reason


def test_a_feed_may_set_its_own_window_and_cap(tmp_path: Path) -> None:
    config = write_config(tmp_path, extra_defaults="  backfill_hours: 12\n")
    text = config.read_text(encoding="utf-8").replace(
        "feeds: []",
        "feeds:\n  - url: https://a.example/rss\n    backfill_hours: 0\n"
        "    max_alerts_per_poll: 5\n  - url: https://b.example/rss\n",
    )
    config.write_text(text, encoding="utf-8")
    loaded = load_config(config)
    own, default = loaded.feeds
    assert loaded.policy_for(own) == PollPolicy(0, 5)
    assert loaded.policy_for(default) == PollPolicy(12, 20)


def test_the_shipped_defaults_are_24_hours_and_20_alerts() -> None:
    defaults = load_config(ROOT / "config" / "newsbot.yaml").defaults
    assert (defaults.backfill_hours, defaults.max_alerts_per_poll) == (24, 20)
