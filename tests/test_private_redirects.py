"""Redirects into private space (issue 11, item 11): a feed on a public address may not redirect
into loopback, private, link-local or metadata addresses; the check is on the address actually
connected to, not on host names. Feeds configured on a private address stay allowed, and an
operator can allow private networks outright.

Tests cannot reach the internet, so they declare which addresses count as public: a second feed
server listens on 127.0.0.2 and the fetcher's policy calls 127.0.0.2 "public"; 127.0.0.1 (the
usual feed server) is then the private network. Everything else is the real fetch path.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from bot.config import Config, Defaults, load_config
from bot.errors import EXCERPT, MAX_DETAIL, FetchError
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.guard import AddressPolicy, IPAddress, is_public_address
from bot.matching.match import Matcher
from bot.models import FeedSpec, Topic
from bot.service.metrics import Metrics
from bot.service.pipeline import Runtime, poll_feed
from bot.state.sqlite import SqliteStore as Store
from tests.feedserver import FeedServer
from tests.helpers import Item, rss, write_config

PUBLIC_HOST = "127.0.0.2"
LIMITS = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=5)
FEED = rss([Item("p1", "Council bans facial recognition", "A ban.")])


def public_in_this_test(ip: IPAddress) -> bool:
    return str(ip) == PUBLIC_HOST


@pytest.fixture
def public_server() -> Iterator[FeedServer]:
    with FeedServer(host=PUBLIC_HOST) as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    fetcher = Fetcher(LIMITS, policy=AddressPolicy(is_public=public_in_this_test))
    yield fetcher
    fetcher.close()


def refused(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.kind == "private", caught.value
    return caught.value


def test_private_redirect_from_a_public_feed_into_loopback_is_refused(
    fetcher: Fetcher, public_server: FeedServer, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/internal", b"ami-id\nami-launch-index\n")
    public_server.set_redirect("/feed.xml", feed_server.url("/internal"))
    error = refused(fetcher, public_server.url("/feed.xml"))
    assert "redirect from a public address into 127.0.0.1" in str(error)
    assert "allow_private_networks" in str(error)
    assert feed_server.count("/internal") == 0  # not one request reached it


def test_private_redirect_refused_on_a_pooled_connection_too(
    fetcher: Fetcher, public_server: FeedServer, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/own.xml", FEED)  # an internal feed, configured directly: allowed
    feed_server.set_feed("/internal", b"secret")
    assert fetcher.fetch(feed_server.url("/own.xml")).status == 200  # leaves a kept-alive socket
    public_server.set_redirect("/feed.xml", feed_server.url("/internal"))
    refused(fetcher, public_server.url("/feed.xml"))
    assert feed_server.count("/internal") == 0


def test_private_redirect_back_after_a_public_hop_is_refused(
    fetcher: Fetcher, public_server: FeedServer, feed_server: FeedServer
) -> None:
    feed_server.set_redirect("/start.xml", public_server.url("/hop"))
    public_server.set_redirect("/hop", feed_server.url("/internal"))
    feed_server.set_feed("/internal", FEED)
    refused(fetcher, feed_server.url("/start.xml"))
    assert feed_server.count("/internal") == 0


def test_private_feeds_configured_directly_may_redirect_inside_their_network(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.set_redirect("/old.xml", "/new.xml")
    feed_server.set_feed("/new.xml", FEED)
    assert fetcher.fetch(feed_server.url("/old.xml")).body == FEED


def test_private_networks_allowed_by_setting(
    public_server: FeedServer, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/internal.xml", FEED)
    public_server.set_redirect("/feed.xml", feed_server.url("/internal.xml"))
    policy = AddressPolicy(allow_private=True, is_public=public_in_this_test)
    fetcher = Fetcher(LIMITS, policy=policy)
    try:
        assert fetcher.fetch(public_server.url("/feed.xml")).body == FEED
    finally:
        fetcher.close()


def test_public_to_public_redirects_are_followed(
    fetcher: Fetcher, public_server: FeedServer
) -> None:
    public_server.set_redirect("/a", "/b.xml")
    public_server.set_feed("/b.xml", FEED)
    assert fetcher.fetch(public_server.url("/a")).body == FEED


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("224.0.0.1", False),
        ("fd00:ec2::254", False),
    ],
)
def test_private_address_classes(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


# -- failed parses: only a short, escaped excerpt of what the server sent --------------------


def huge_reason(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 599 " + b"R" * 5000 + b"\r\nContent-Length: 0\r\n\r\n")


BODIES = [
    (
        "metadata-text",
        lambda s: s.set_feed(
            "/x", b"ami-id\nami-launch-index\x1b[31m\n" + b"AKIA" * 500, content_type="text/plain"
        ),
    ),
    (
        "huge-content-type",
        lambda s: s.set_feed(
            "/x", b"<x>not a feed</x>", content_type="application/x-" + "A" * 5000
        ),
    ),
    ("huge-reason-phrase", lambda s: s.set_raw("/x", huge_reason)),
]


@pytest.mark.parametrize("setup", [b[1] for b in BODIES], ids=[b[0] for b in BODIES])
def test_private_body_bytes_never_stored_beyond_a_short_escaped_excerpt(
    tmp_path: Path, feed_server: FeedServer, setup: object, caplog: pytest.LogCaptureFixture
) -> None:
    setup(feed_server)  # type: ignore[operator]
    store = Store(tmp_path / "state.db")
    fetcher = Fetcher(LIMITS)
    topic = Topic("t", ("#a",), "ban", 30.0)
    rt = Runtime(
        Config(tmp_path / "c.yaml", Defaults(), (topic,), (), ()),
        Matcher([topic]),
        store,
        fetcher,
        Metrics(),
    )
    try:
        with caplog.at_level(logging.DEBUG, logger="bot"):  # the app keeps libraries at WARNING
            outcome = poll_feed(rt, FeedSpec(feed_server.url("/x")))
        error = store.feed_state(feed_server.url("/x")).last_error or ""
    finally:
        fetcher.close()
        store.close()
    assert outcome.status == "failed"
    assert error == outcome.error
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for text in (error, logged):
        assert "AKIA" * 10 not in text
        assert "A" * (MAX_DETAIL + 1) not in text  # library messages: clipped
        assert "R" * (EXCERPT + 1) not in text  # server text we quote: a short excerpt
        assert "\x1b" not in text
    assert len(error) <= 300


def test_private_networks_setting_and_fetch_deadline_are_read_from_defaults(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config", extra_defaults="  allow_private_networks: true\n  fetch_deadline: 5\n"
    )
    defaults = load_config(config).defaults
    assert defaults.allow_private_networks is True
    assert defaults.fetch_deadline == 5
    assert load_config(write_config(tmp_path / "plain")).defaults.allow_private_networks is False
