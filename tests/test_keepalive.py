"""Issue 13, item 3: a 304 leaves its connection in the keep-alive pool, as a 200 does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.feeds.fetch import Fetcher, FetchLimits
from tests.feedserver import FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=5))
    yield fetcher
    fetcher.close()


def test_polls_answered_304_reuse_one_connection(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_feed("/a.xml", RSS)
    feed_server.set_feed("/b.xml", RSS.replace(b"<title>t", b"<title>b"))
    first = fetcher.fetch(feed_server.url("/a.xml"))
    assert first.status == 200
    for _ in range(3):
        again = fetcher.fetch(feed_server.url("/a.xml"), etag=first.etag)
        assert again.status == 304
    assert fetcher.fetch(feed_server.url("/b.xml")).status == 200
    assert len(feed_server.requests) == 5
    assert feed_server.connections == 1  # before issue 13: a new connection after every 304
