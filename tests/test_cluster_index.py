"""Issue 13, item 1: clustering compares a story only with the recent alerts that could fold it
(blocking), read from an in-memory index of each channel's alerts, and decides exactly as the
full comparison with every stored alert did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.alerts.plan import Candidate, plan_alerts
from bot.matching import cluster, cluster_index
from bot.matching.cluster_index import ReportIndex, SeqReport, distinct_reports
from bot.matching.evaluate_clusters import load_items
from bot.models import Alert, ClusterSettings, Match, Story, TermHit, Topic
from bot.service.pipeline import indexed_reports, stored_reports
from bot.state.sqlite import SqliteStore as Store
from tests.helpers import newsbot

DATA = Path(__file__).parent / "data"
SETS = [DATA / "clusters_sample.jsonl", DATA / "clusters_events.jsonl"]
MATCH = Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0),))


def _eval(path: Path, *extra: str) -> dict[str, object]:
    result = newsbot("eval", str(path), "--clusters", "--json", *extra, env={})
    assert result.returncode == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_eval_clusters_decides_the_same_with_blocking_and_with_every_comparison(
    path: Path,
) -> None:
    blocked = _eval(path)
    full = _eval(path, "--compare-all")
    assert blocked["assignments"] == full["assignments"]
    assert blocked == full
    assert isinstance(full["folded"], int)
    assert full["folded"] > 0


def test_blocking_scores_only_stories_that_share_a_name_or_a_near_copy_headline() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    earlier = Story("e", "https://a.example/1", "Boston bans face scanning", "", "A", now)
    other = Story("o", "https://b.example/2", "Weather turns cold across the region", "", "B", now)
    prior = [cluster.report_of(story.id, story, now, None) for story in (earlier, other)]
    story = Story("n", "https://c.example/3", "Portland weighs a new tax", "", "C", now)
    settings = ClusterSettings()
    full = cluster.decide(story, prior, settings, now)
    blocked = cluster.decide(story, prior, settings, now, blocking=True)
    assert full.parent_id is None
    assert "closest was" in full.reason
    assert blocked.parent_id is None
    assert "no recent alert shares" in blocked.reason
    copy = Story("c", "https://d.example/4", "Boston bans face scanning!", "", "D", now)
    assert cluster.decide(copy, prior, settings, now, blocking=True).parent_id == "e"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "newsbot.db")
    yield opened
    opened.close()


def _record(store: Store, alerts: list[Alert]) -> None:
    with store.poll("https://feed.example/rss") as tx:
        tx.record(
            title="Feed",
            etag=None,
            last_modified=None,
            stories=[alert.story for alert in alerts],
            alerts=alerts,
            next_due=0,
        )


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_polls_through_the_index_decide_as_polls_reading_every_stored_alert(
    path: Path, tmp_path: Path
) -> None:
    """The dev set arrives one story per poll in two channels."""
    topic = Topic("topic", ("#a", "#b"), "ban")
    polls = [
        ([(item.story, topic, MATCH)], item.published.timestamp()) for item in load_items(str(path))
    ]
    fast, slow, index = _plan_both_ways(tmp_path, polls)
    assert _decisions(fast) == _decisions(slow)
    assert any(parent for parent, _ in _decisions(slow))
    assert index.loads == 1  # loaded once, then kept up to date by the "since" query


def _plan_both_ways(
    tmp_path: Path, polls: Iterable[tuple[list[Candidate], float]]
) -> tuple[list[Alert], list[Alert], ReportIndex]:
    """Each poll planned twice, each plan recorded in its own store: from the index with
    blocking (as the pipeline plans), and from a full read of the store without."""
    fast, slow = Store(tmp_path / "fast.db"), Store(tmp_path / "slow.db")
    index = ReportIndex(lambda: 0.0)
    planned: tuple[list[Alert], list[Alert]] = ([], [])
    try:
        for batch, now in polls:
            with fast.poll("https://feed.example/rss") as tx:
                planned_fast = plan_alerts(batch, indexed_reports(index, tx), now, blocking=True)
            planned_slow = plan_alerts(batch, stored_reports(slow), now)
            _record(fast, planned_fast)
            _record(slow, planned_slow)
            planned[0].extend(planned_fast)
            planned[1].extend(planned_slow)
    finally:
        fast.close()
        slow.close()
    return planned[0], planned[1], index


def _decisions(alerts: list[Alert]) -> list[tuple[str | None, str]]:
    return [(alert.parent_id, alert.cluster_reason) for alert in alerts]


def _copies(story: Story) -> list[Story]:
    """The story as three feeds carry a wire story (same texts, their own URL and name), then
    the second feed's copy again under a revised headline (same URL)."""
    copies = [
        replace(story, id=f"{story.id}-{n}", url=f"{story.url}#feed{n}", source=f"Feed {n}")
        for n in range(3)
    ]
    return [*copies, replace(copies[1], id=f"{story.id}-rev", title=f"{story.title}, updated")]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_copies_from_many_feeds_decide_as_every_stored_copy_would(
    path: Path, tmp_path: Path
) -> None:
    """The index compares a story with one copy of each story per event (and every report of
    its own URL): each arrival from each feed gets the fold, parent and reason of a full read."""
    topic = Topic("topic", ("#a",), "ban")
    polls = [
        ([(story, topic, MATCH)], item.published.timestamp())
        for item in load_items(str(path))
        for story in _copies(item.story)
    ]
    fast, slow, index = _plan_both_ways(tmp_path, polls)
    assert _decisions(fast) == _decisions(slow)
    assert sum("same canonical URL" in reason for _, reason in _decisions(slow)) > 0
    assert index.size() > index.distinct()  # copies were held once for the comparison


def _alert(
    n: int, channel: str, when: datetime, parent: str | None = None, title: str = ""
) -> Alert:
    headline = title or f"Title {n}"
    story = Story(f"s{n}", f"https://news.example/{n}", headline, "Summary", "Out", when)
    return Alert(f"{channel}-{n}", "topic", channel, story, MATCH, parent)


def test_the_index_holds_what_the_store_would_read(store: Store, tmp_path: Path) -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    _record(
        store,
        [
            _alert(1, "#a", start - timedelta(days=5)),
            _alert(2, "#a", start),
            _alert(3, "#a", start + timedelta(hours=1), parent="#a-2"),
            _alert(4, "#b", start),
        ],
    )
    index = ReportIndex(lambda: start.timestamp())
    since = (start - timedelta(days=1)).timestamp()

    def both(channel: str, since: float) -> tuple[list[str], list[str]]:
        held = index.reports(store, channel, since)
        read = stored_reports(store)(channel, since, "", None)
        assert held == distinct_reports(read)  # the same reports (features aside), in order
        return [r.title for r in held], [r.alert_id for r in held]

    assert both("#a", since) == (["Title 2", "Title 3"], ["#a-2", "#a-2"])
    assert both("#b", since)[0] == ["Title 4"]
    # Another process records an alert: the next read finds it through the "since" query.
    other = Store(tmp_path / "newsbot.db")
    try:
        _record(other, [_alert(5, "#a", start + timedelta(hours=2))])
    finally:
        other.close()
    assert both("#a", since)[0] == ["Title 2", "Title 3", "Title 5"]
    assert index.loads == 1
    # Asked for older reports than it holds, it loads them from the store.
    older = (start - timedelta(days=6)).timestamp()
    assert both("#a", older)[0] == ["Title 1", "Title 2", "Title 3", "Title 5"]
    assert index.loads == 2


def test_the_index_reads_the_store_in_pages(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load reads the window a page at a time (bounded transient memory), and misses nothing:
    not the alerts after a damaged stored copy, nor those of the last page, nor those a later
    "since" query finds."""
    monkeypatch.setattr(cluster_index, "READ_PAGE", 2)
    start = datetime(2026, 1, 10, tzinfo=UTC)
    _record(store, [_alert(n, "#a", start + timedelta(minutes=n)) for n in range(1, 6)])
    store._write("UPDATE alerts SET payload = ? WHERE id = ?", ("{not json", "#a-2"))
    pages: list[int] = []
    real = store.reports_after

    def counted(seq: int, since: float, limit: int | None = None) -> list[SeqReport]:
        found = real(seq, since, limit)
        pages.append(len(found))
        return found

    monkeypatch.setattr(store, "reports_after", counted)
    index = ReportIndex(lambda: start.timestamp())
    since = start.timestamp() - 1
    held = index.reports(store, "#a", since)
    assert [r.title for r in held] == ["Title 1", "Title 3", "Title 4", "Title 5"]
    assert pages == [2, 2, 1]  # the first page's second alert is the damaged one
    _record(store, [_alert(6, "#a", start + timedelta(minutes=6))])
    assert [r.title for r in index.reports(store, "#a", since)][-1] == "Title 6"
    assert index.loads == 1


def test_the_index_forgets_events_older_than_anything_asked_for(store: Store) -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    _record(store, [_alert(1, "#a", start), _alert(2, "#a", start + timedelta(days=4))])
    clock = [start.timestamp()]
    index = ReportIndex(lambda: clock[0])
    assert len(index.reports(store, "#a", start.timestamp() - 1)) == 2
    clock[0] += 5 * 86400  # past the prune interval; the poll now asks for the last two days
    recent = index.reports(store, "#a", clock[0] - 2 * 86400)
    assert [r.title for r in recent] == ["Title 2"]
    index.reports(store, "#a", clock[0] - 2 * 86400)
    clock[0] += 700
    index.reports(store, "#a", clock[0] - 2 * 86400)
    assert index.size() == 1
    # A prune that drops nothing leaves the channel's tables as they are (no rebuild).
    tables = index._channels["#a"]
    clock[0] += 700
    index.reports(store, "#a", clock[0] - 2 * 86400)
    assert index._channels["#a"] is tables
    assert index.size() == 1


def test_after_the_store_prunes_the_index_holds_what_the_store_still_has(tmp_path: Path) -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    clock = [start.timestamp()]
    store = Store(tmp_path / "newsbot.db", clock=lambda: clock[0])
    try:
        _record(store, [_alert(1, "#a", start)])
        clock[0] += 3 * 86400
        _record(store, [_alert(2, "#a", start + timedelta(days=3))])
        store.mark_sent("#a-1", "C1", "1.0")  # delivered three days ago: the prune takes it
        index = ReportIndex(lambda: clock[0])
        since = start.timestamp() - 1
        assert [r.title for r in index.reports(store, "#a", since)] == ["Title 1", "Title 2"]
        assert store.prune(retention_days=1) == (1, 1)
        index.reload(store)
        assert index.loads == 2  # read now, by the pruning job, not by the next poll
        held = index.reports(store, "#a", since)
        assert [r.title for r in held] == ["Title 2"]
        assert held == distinct_reports(stored_reports(store)("#a", since, "", None))
        assert index.loads == 2
    finally:
        store.close()


def test_asked_with_a_profile_the_index_returns_only_what_blocking_keeps(store: Store) -> None:
    """The reports a story could fold into, whatever the channel holds: those naming one of its
    names, a near-copy headline that names nothing, and every report of its own URL."""
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    filler = [
        _alert(n, "#a", now - timedelta(hours=1), title=f"Weather report number {n} for the coast")
        for n in range(40)
    ]
    named = _alert(50, "#a", now, title="Oakland bans police face recognition")
    unnamed = _alert(51, "#a", now, title="city council votes to ban face surveillance tools")
    _record(store, [*filler, named, unnamed])
    index = ReportIndex(lambda: now.timestamp())
    since = (now - timedelta(days=2)).timestamp()
    everything = index.reports(store, "#a", since)
    assert len(everything) == 42

    def titles(title: str, url: str = "") -> list[str]:
        like = cluster.profile(title, "")
        return [r.title for r in index.reports(store, "#a", since, url, like=like)]

    assert titles("Oakland council approves the ban") == ["Oakland bans police face recognition"]
    assert titles("city council votes to ban face surveillance tool") == [
        "city council votes to ban face surveillance tools"
    ]
    assert titles("Nothing in common here at all") == []
    assert titles("Nothing in common here at all", filler[0].story.url) == [
        "Weather report number 0 for the coast"
    ]
    story = Story(
        "n", "https://x.example/n", "city council votes to ban face surveillance tool", "", "X", now
    )
    with store.poll("https://feed.example/rss") as tx:
        planned = plan_alerts(
            [(story, Topic("topic", ("#a",), "ban"), MATCH)],
            indexed_reports(index, tx),
            now.timestamp(),
            blocking=True,
        )
    assert [alert.parent_id for alert in planned] == [unnamed.id]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_a_polls_batch_through_the_index_decides_as_a_full_read(path: Path, tmp_path: Path) -> None:
    """Several stories per poll: replies planned earlier in the batch carry their event's
    start to the later decisions, whichever reports the index returned."""
    topic = Topic("topic", ("#a",), "ban")
    items = load_items(str(path))
    polls = [
        (
            [(item.story, topic, MATCH) for item in items[start : start + 4]],
            max(item.published for item in items[start : start + 4]).timestamp(),
        )
        for start in range(0, len(items), 4)
    ]
    fast, slow, _ = _plan_both_ways(tmp_path, polls)
    assert _decisions(fast) == _decisions(slow)
    assert sum(1 for parent, _ in _decisions(slow) if parent) > 2
