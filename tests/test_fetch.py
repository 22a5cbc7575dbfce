"""bot.feeds.fetch against the real local feed server: what succeeds, and Retry-After parsing."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from bot import __version__
from bot.errors import FetchError
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.http_headers import parse_retry_after
from tests.feedserver import FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(FetchLimits(connect_timeout=1, read_timeout=1, total_timeout=3))
    yield fetcher
    fetcher.close()


def test_200_returns_body_and_validators(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_feed("/a.xml", RSS, content_type="application/rss+xml; charset=utf-8")
    result = fetcher.fetch(feed_server.url("/a.xml"))
    assert result.status == 200
    assert result.body == RSS
    assert (result.etag or "").startswith('"')
    assert (result.last_modified or "").endswith("GMT")
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.url == feed_server.url("/a.xml")
    assert not result.not_modified


def test_request_headers(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_feed("/a.xml", RSS)
    fetcher.fetch(feed_server.url("/a.xml"))
    (seen,) = feed_server.requests
    assert seen.headers["User-Agent"].startswith(f"newsbot/{__version__} (+https://")
    assert "gzip" in seen.headers["Accept-Encoding"]
    assert "application/rss+xml" in seen.headers["Accept"]
    assert seen.headers["If-None-Match"] is None
    assert seen.headers["If-Modified-Since"] is None


CONDITIONAL = [
    # name, send etag, send last-modified, server gives etag, expected status
    ("etag and date", True, True, True, 304),
    ("etag only", True, False, True, 304),
    ("date only", False, True, True, 304),
    ("date only, server without etag", False, True, False, 304),
]


@pytest.mark.parametrize(
    ("send_etag", "send_date", "server_etag", "status"),
    [c[1:] for c in CONDITIONAL],
    ids=[c[0] for c in CONDITIONAL],
)
def test_conditional_get(
    feed_server: FeedServer,
    fetcher: Fetcher,
    send_etag: bool,
    send_date: bool,
    server_etag: bool,
    status: int,
) -> None:
    feed_server.set_feed("/a.xml", RSS, etag=server_etag)
    first = fetcher.fetch(feed_server.url("/a.xml"))
    etag = first.etag if send_etag else None
    date = first.last_modified if send_date else None
    second = fetcher.fetch(feed_server.url("/a.xml"), etag=etag, last_modified=date)
    assert second.status == status
    assert second.not_modified
    assert second.body is None
    assert second.etag == first.etag
    headers = feed_server.requests[-1].headers
    assert headers["If-None-Match"] == etag
    assert headers["If-Modified-Since"] == date


def test_changed_feed_is_fetched_again(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_feed("/a.xml", RSS)
    first = fetcher.fetch(feed_server.url("/a.xml"))
    feed_server.set_feed("/a.xml", RSS.replace(b"<title>t", b"<title>new"))
    second = fetcher.fetch(
        feed_server.url("/a.xml"), etag=first.etag, last_modified=first.last_modified
    )
    assert second.status == 200
    assert b"new" in (second.body or b"")
    assert second.etag != first.etag


def test_gzip_is_decoded(feed_server: FeedServer, fetcher: Fetcher) -> None:
    body = RSS * 200
    feed_server.set_feed("/a.xml", body, gzip=True)
    result = fetcher.fetch(feed_server.url("/a.xml"))
    assert result.body == body


def deflate_handler(raw: bool) -> object:
    def handler(request: BaseHTTPRequestHandler) -> None:
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        body = compressor.compress(RSS) + compressor.flush()
        request.send_response(200)
        request.send_header("Content-Encoding", "deflate")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handler


@pytest.mark.parametrize("raw", [False, True], ids=["zlib deflate", "raw deflate"])
def test_deflate_is_decoded(feed_server: FeedServer, fetcher: Fetcher, raw: bool) -> None:
    feed_server.set_raw("/d.xml", deflate_handler(raw))  # type: ignore[arg-type]
    assert fetcher.fetch(feed_server.url("/d.xml")).body == RSS


REDIRECTS = [
    ("one 301", ["/a"], 301),
    ("302 then 307", ["/a", "/b"], 302),
    ("five 308", ["/a", "/b", "/c", "/d", "/e"], 308),
]


@pytest.mark.parametrize(
    ("hops", "status"), [c[1:] for c in REDIRECTS], ids=[c[0] for c in REDIRECTS]
)
def test_redirects_are_followed(
    feed_server: FeedServer, fetcher: Fetcher, hops: list[str], status: int
) -> None:
    for here, there in zip(hops, [*hops[1:], "/final.xml"], strict=True):
        feed_server.set_redirect(here, there, status=status)
    feed_server.set_feed("/final.xml", RSS)
    result = fetcher.fetch(feed_server.url(hops[0]))
    assert result.body == RSS
    assert result.url == feed_server.url("/final.xml")
    assert feed_server.count("/final.xml") == 1


def test_relative_location(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_status("/old/feed", 301, headers={"Location": "../new/feed.xml"})
    feed_server.set_feed("/new/feed.xml", RSS)
    assert fetcher.fetch(feed_server.url("/old/feed")).url == feed_server.url("/new/feed.xml")


def test_conditional_headers_survive_a_redirect(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_redirect("/old", "/new.xml", status=301)
    feed_server.set_feed("/new.xml", RSS)
    first = fetcher.fetch(feed_server.url("/old"))
    second = fetcher.fetch(feed_server.url("/old"), etag=first.etag)
    assert second.not_modified


def test_connection_is_reused(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_feed("/a.xml", RSS)
    for _ in range(3):
        fetcher.fetch(feed_server.url("/a.xml"))
    assert feed_server.count("/a.xml") == 3


def test_custom_transport_is_used() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=RSS, headers={"ETag": '"x"'})

    fetcher = Fetcher(transport=httpx.MockTransport(handler))
    try:
        result = fetcher.fetch("https://feeds.example/rss")
    finally:
        fetcher.close()
    assert (result.status, result.body, result.etag) == (200, RSS, '"x"')


NOW = datetime(2026, 10, 20, 12, 0, 0, tzinfo=UTC)
RETRY_AFTER = [
    ("seconds", "120", 120.0),
    ("zero", "0", 0.0),
    ("padded", "  30 ", 30.0),
    ("http-date", "Tue, 20 Oct 2026 12:02:00 GMT", 120.0),
    ("http-date in the past", "Tue, 20 Oct 2026 11:00:00 GMT", 0.0),
    ("obsolete rfc 850 date", "Tuesday, 20-Oct-26 12:01:00 GMT", 60.0),
    ("missing", None, None),
    ("empty", "", None),
    ("negative", "-5", None),
    ("fraction", "1.5", None),
    ("garbage", "soon", None),
]


@pytest.mark.parametrize(
    ("value", "expected"), [c[1:] for c in RETRY_AFTER], ids=[c[0] for c in RETRY_AFTER]
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_one_fetcher_shared_by_threads(feed_server: FeedServer, fetcher: Fetcher) -> None:
    for i in range(8):
        feed_server.set_feed(f"/f{i}.xml", RSS.replace(b"<title>t", f"<title>{i}".encode()))
    urls = [feed_server.url(f"/f{i % 8}.xml") for i in range(32)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(lambda url: fetcher.fetch(url).body, urls))
    assert [body and body.count(f"<title>{i % 8}<".encode()) for i, body in enumerate(bodies)] == [
        1
    ] * 32


def test_log_record_has_stable_keys(
    feed_server: FeedServer, fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    feed_server.set_feed("/a.xml", RSS)
    feed_server.set_status("/b.xml", 500)
    with caplog.at_level(logging.DEBUG, logger="bot.feeds.fetch"):
        fetcher.fetch(feed_server.url("/a.xml"))
        with pytest.raises(FetchError):
            fetcher.fetch(feed_server.url("/b.xml"))
    ok, failed = caplog.records
    assert (ok.feed_url, ok.status, ok.levelname) == (feed_server.url("/a.xml"), 200, "DEBUG")  # type: ignore[attr-defined]
    assert (failed.feed_url, failed.status, failed.levelname) == (  # type: ignore[attr-defined]
        feed_server.url("/b.xml"),
        500,
        "DEBUG",  # the pipeline logs the failure once, at WARNING, with the failure count
    )
    assert isinstance(ok.elapsed_ms, int)  # type: ignore[attr-defined]
