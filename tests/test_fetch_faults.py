"""bot.feeds.fetch under feed faults: every failure is a FetchError with a precise kind and message.

All against real sockets on 127.0.0.1 (the `.invalid` TLD never resolves, RFC 6761 §6.4).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from bot.errors import FeedGone, FetchError
from bot.feeds.fetch import Fetcher, FetchLimits
from tests.feedserver import FeedServer

MB = 1024 * 1024
LIMITS = FetchLimits(connect_timeout=0.5, read_timeout=0.5, total_timeout=1.5, max_bytes=1 * MB)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(LIMITS)
    yield fetcher
    fetcher.close()


def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.feed_url == url
    assert str(caught.value).startswith(f"fetch {url}: ")
    return caught.value


STATUSES = [
    # name, status, headers, message, retry_after
    ("500", 500, {}, "HTTP 500 Internal Server Error", None),
    ("502", 502, {}, "HTTP 502 Bad Gateway", None),
    ("503 without retry-after", 503, {}, "HTTP 503 Service Unavailable", None),
    (
        "503 with seconds",
        503,
        {"Retry-After": "120"},
        "HTTP 503 Service Unavailable, retry after 120 s",
        120.0,
    ),
    (
        "429 with seconds",
        429,
        {"Retry-After": "30"},
        "HTTP 429 Too Many Requests, retry after 30 s",
        30.0,
    ),
    (
        "429 unreadable retry-after",
        429,
        {"Retry-After": "later"},
        "HTTP 429 Too Many Requests",
        None,
    ),
    ("404", 404, {}, "HTTP 404 Not Found", None),
    ("403", 403, {}, "HTTP 403 Forbidden", None),
    ("500 retry-after ignored", 500, {"Retry-After": "60"}, "HTTP 500 Internal Server Error", None),
    ("unknown status", 599, {}, "HTTP 599 ", None),
]


@pytest.mark.parametrize(
    ("status", "headers", "message", "retry_after"),
    [c[1:] for c in STATUSES],
    ids=[c[0] for c in STATUSES],
)
def test_http_errors(
    feed_server: FeedServer,
    fetcher: Fetcher,
    status: int,
    headers: dict[str, str],
    message: str,
    retry_after: float | None,
) -> None:
    feed_server.set_status("/f", status, headers=headers, body=b"<html>oops</html>")
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert type(error) is FetchError
    assert (error.kind, error.status, error.retry_after) == ("http", status, retry_after)
    assert str(error).endswith(message) or message in str(error)


def test_429_with_http_date(feed_server: FeedServer, fetcher: Fetcher) -> None:
    when = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 300))
    feed_server.set_status("/f", 429, headers={"Retry-After": when})
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.retry_after is not None
    assert 290 <= error.retry_after <= 300
    assert "retry after" in str(error)


def test_410_is_feed_gone(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_status("/f", 410)
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert isinstance(error, FeedGone)
    assert (error.kind, error.status) == ("http", 410)
    assert "HTTP 410 Gone" in str(error)


def test_error_status_after_redirect(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_redirect("/old", "/gone", status=301)
    feed_server.set_status("/gone", 410)
    with pytest.raises(FeedGone):
        fetcher.fetch(feed_server.url("/old"))


# -- redirects and schemes ------------------------------------------------------------------


def test_redirect_loop(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_redirect("/a", "/b")
    feed_server.set_redirect("/b", "/a")
    error = fetch_error(fetcher, feed_server.url("/a"))
    assert error.kind == "redirects"
    assert str(error).endswith("redirect loop after 5 hops")
    assert len(feed_server.requests) == 6  # the first request and 5 followed hops


def test_redirect_chain_too_long(feed_server: FeedServer, fetcher: Fetcher) -> None:
    for i in range(7):
        feed_server.set_redirect(f"/r{i}", f"/r{i + 1}")
    error = fetch_error(fetcher, feed_server.url("/r0"))
    assert error.kind == "redirects"
    assert str(error).endswith("too many redirects: more than 5 hops")


def test_redirect_without_location(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_status("/a", 302)
    error = fetch_error(fetcher, feed_server.url("/a"))
    assert (error.kind, error.status) == ("protocol", 302)
    assert "without a Location header" in str(error)


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "javascript:alert(1)"]
)
def test_redirect_to_other_scheme(feed_server: FeedServer, fetcher: Fetcher, target: str) -> None:
    feed_server.set_status("/a", 302, headers={"Location": target})
    error = fetch_error(fetcher, feed_server.url("/a"))
    assert error.kind == "scheme"
    assert "redirect to a" in str(error)


SCHEMES = [
    ("file", "file:///etc/passwd"),
    ("ftp", "ftp://example.com/feed.xml"),
    ("feed pseudo-scheme", "feed://example.com/rss"),
    ("relative", "/feed.xml"),
    ("empty", ""),
    ("javascript", "javascript:alert(1)"),
]


@pytest.mark.parametrize("url", [c[1] for c in SCHEMES], ids=[c[0] for c in SCHEMES])
def test_non_http_scheme(fetcher: Fetcher, url: str) -> None:
    error = fetch_error(fetcher, url)
    assert error.kind == "scheme"
    assert "not an http(s) URL" in str(error)


# -- network failures -------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nobody listens


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose accept queue is full: new connections are never completed (SYNs dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = int(server.getsockname()[1])
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for filler in fillers:
        filler.close()
    server.close()


def test_connection_refused(fetcher: Fetcher, closed_port: int) -> None:
    error = fetch_error(fetcher, f"http://127.0.0.1:{closed_port}/feed")
    assert error.kind == "connect"
    assert "connection refused by 127.0.0.1" in str(error)


def test_dns_failure(fetcher: Fetcher) -> None:
    error = fetch_error(fetcher, "http://no-such-host.invalid/feed.xml")
    assert error.kind == "dns"
    assert "DNS lookup failed for no-such-host.invalid" in str(error)


def test_connect_timeout(fetcher: Fetcher, unaccepting_port: int) -> None:
    started = time.monotonic()
    error = fetch_error(fetcher, f"http://127.0.0.1:{unaccepting_port}/feed")
    assert error.kind == "timeout"
    assert "connect timeout: no connection within 0.5 s" in str(error)
    assert time.monotonic() - started < 1.4


def test_read_timeout(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_hang("/f", 5)
    started = time.monotonic()
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "timeout"
    assert "read timeout: server sent nothing for 0.5 s" in str(error)
    assert time.monotonic() - started < 1.4


def test_trickle_is_cut_at_the_deadline(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_trickle("/f", b" ", 0.1)  # always within the read timeout, never done
    started = time.monotonic()
    error = fetch_error(fetcher, feed_server.url("/f"))
    elapsed = time.monotonic() - started
    assert error.kind == "timeout"
    assert "no complete response within the 1.5 s deadline" in str(error)
    assert 1.4 < elapsed < 2.5


def test_header_trickle_is_cut_at_the_deadline(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_header_trickle("/f", 0.1)  # every read gets a byte: no read timeout fires
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "timeout"
    assert "no complete response within the 1.5 s deadline" in str(error)


def test_cancel_ends_a_fetch_in_flight_and_every_later_one(feed_server: FeedServer) -> None:
    feed_server.set_header_trickle("/f", 0.1)
    fetcher = Fetcher(FetchLimits(total_timeout=600))
    timer = threading.Timer(0.5, fetcher.cancel)
    timer.start()
    try:
        assert fetch_error(fetcher, feed_server.url("/f")).kind == "cancelled"
        assert fetch_error(fetcher, feed_server.url("/f")).kind == "cancelled"
    finally:
        timer.join()
        fetcher.close()


def test_deadline_covers_redirect_hops(feed_server: FeedServer) -> None:
    def slow_redirect(request: BaseHTTPRequestHandler) -> None:
        time.sleep(0.4)
        request.send_response(302)
        request.send_header("Location", "/slow")
        request.send_header("Content-Length", "0")
        request.end_headers()

    feed_server.set_raw("/slow", slow_redirect)
    fetcher = Fetcher(FetchLimits(read_timeout=0.5, total_timeout=1.0, max_redirects=20))
    try:
        started = time.monotonic()
        error = fetch_error(fetcher, feed_server.url("/slow"))
    finally:
        fetcher.close()
    assert error.kind == "timeout"
    assert "within the 1 s deadline" in str(error)
    assert time.monotonic() - started < 1.5


def test_garbage_response(feed_server: FeedServer, fetcher: Fetcher) -> None:
    def garbage(request: BaseHTTPRequestHandler) -> None:
        request.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        request.close_connection = True

    feed_server.set_raw("/f", garbage)
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "protocol"


def test_connection_dropped_mid_body(feed_server: FeedServer, fetcher: Fetcher) -> None:
    def truncated(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", "1000")
        request.end_headers()
        request.wfile.write(b"<rss>only part")
        request.close_connection = True

    feed_server.set_raw("/f", truncated)
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "protocol"


# -- size limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("content_length", [True, False], ids=["declared", "undeclared"])
def test_200_mb_body_is_stopped_at_the_cap(
    feed_server: FeedServer, fetcher: Fetcher, content_length: bool
) -> None:
    feed_server.set_huge("/f", 200 * MB, content_length=content_length)
    started = time.monotonic()
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "too_large"
    assert f"body exceeds {1 * MB} bytes" in str(error)
    assert time.monotonic() - started < 1.0  # 200 MB on loopback would take longer


def test_gzip_bomb_is_stopped_at_the_cap(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_gzip_bomb("/f", 200 * MB)
    started = time.monotonic()
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "too_large"
    assert str(error).endswith(f"body exceeds {1 * MB} bytes")
    assert time.monotonic() - started < 1.0


def test_body_at_the_cap_is_accepted(feed_server: FeedServer, fetcher: Fetcher) -> None:
    body = b"x" * MB
    feed_server.set_feed("/f", body, gzip=True)
    assert fetcher.fetch(feed_server.url("/f")).body == body


def test_broken_gzip(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_status(
        "/f", 200, headers={"Content-Encoding": "gzip"}, body=b"\x1f\x8b\x08not gzip at all"
    )
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "protocol"
    assert "cannot decompress body" in str(error)


def test_unsupported_content_encoding(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.set_status("/f", 200, headers={"Content-Encoding": "br"}, body=b"\x00\x01")
    error = fetch_error(fetcher, feed_server.url("/f"))
    assert error.kind == "protocol"
    assert "unsupported Content-Encoding 'br'" in str(error)


def test_fetcher_keeps_working_after_faults(
    feed_server: FeedServer, fetcher: Fetcher, closed_port: int
) -> None:
    feed_server.set_hang("/hang", 5)
    feed_server.set_huge("/huge", 50 * MB, content_length=False)
    feed_server.set_feed("/ok", b"<rss/>")
    for url in (
        feed_server.url("/hang"),
        feed_server.url("/huge"),
        f"http://127.0.0.1:{closed_port}/",
    ):
        with pytest.raises(FetchError):
            fetcher.fetch(url)
    assert fetcher.fetch(feed_server.url("/ok")).body == b"<rss/>"


def test_header_trickle_through_a_proxy_is_cut_at_the_deadline(
    feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The feed server stands in for an HTTP proxy from the environment: it routes the proxied
    # request (absolute-form target, RFC 9112 §3.2.2) by its path.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, feed_server.url("/").rstrip("/"))
    feed_server.set_header_trickle("/slow.xml", 0.1)
    fetcher = Fetcher(LIMITS)
    try:
        error = fetch_error(fetcher, "http://feeds.newsbot-test.invalid/slow.xml")
    finally:
        fetcher.close()
    assert error.kind == "timeout"
    assert feed_server.requests[-1].path == "http://feeds.newsbot-test.invalid/slow.xml"
