"""The running configuration is one frozen snapshot (config + compiled matcher): a reload swaps
it in one assignment, and a poll reads it once, so a reload in the middle of a poll never gives
that poll half of the old configuration and half of the new one (issue 12)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config, Defaults
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.matching.match import Matcher
from bot.models import FeedSpec, Match, Topic
from bot.service.metrics import Metrics
from bot.service.pipeline import Runtime, Snapshot, poll_feed
from bot.state.sqlite import SqliteStore
from tests.feedserver import FeedServer
from tests.helpers import Item, rss

OLD = Topic("frt", ("#old",), '"facial recognition"', 30.0)
NEW = Topic("frt-renamed", ("#new",), '"facial recognition"', 30.0)


class ReloadingMatcher:
    """The old configuration's matcher; matching its first story 'reloads' the service (the
    runtime gets the new snapshot), as a scheduler thread could at any moment."""

    def __init__(self, runtime: Runtime, new: Snapshot) -> None:
        self.runtime, self.new = runtime, new
        self.inner = Matcher([OLD])

    def match(self, title: str, summary: str) -> list[Match]:
        self.runtime.snapshot = self.new
        return self.inner.match(title, summary)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    store = SqliteStore(tmp_path / "state.db")
    fetcher = Fetcher(FetchLimits(connect_timeout=1, read_timeout=1, total_timeout=3))
    config = Config(
        tmp_path / "c.yaml",
        dataclasses.replace(Defaults(), allow_private_networks=True),
        (OLD,),
        (),
        (),
    )
    rt = Runtime(config, Matcher([OLD]), store, fetcher, Metrics())
    yield rt
    fetcher.close()
    store.close()


def test_a_reload_during_a_poll_applies_from_the_next_poll(
    runtime: Runtime, feed_server: FeedServer, tmp_path: Path
) -> None:
    new = Snapshot(dataclasses.replace(runtime.config, topics=(NEW,)), Matcher([NEW]))
    old = runtime.snapshot
    runtime.snapshot = Snapshot(old.config, ReloadingMatcher(runtime, new))  # type: ignore[arg-type]
    feed_server.set_feed(
        "/a.xml",
        rss([Item(f"s{n}", f"City {n} bans facial recognition", "A ban.") for n in range(3)]),
    )
    feed = FeedSpec(feed_server.url("/a.xml"))
    outcome = poll_feed(runtime, feed, force=True)
    assert runtime.snapshot is new  # the reload happened, mid-poll
    # Every story of that poll went by the old configuration: its topic, its channel.
    assert outcome.status == "ok", outcome
    assert sorted((a.topic, a.channel) for a in outcome.alerts) == [("frt", "#old")] * 3
    feed_server.set_feed(
        "/a.xml", rss([Item("s9", "Town bans facial recognition", "Another ban.")])
    )
    later = poll_feed(runtime, feed, force=True)
    assert [(a.topic, a.channel) for a in later.alerts] == [("frt-renamed", "#new")]
