"""Every feed fault, through the pipeline: the feed is marked failing with a clear reason, backs
off, recovers by itself, and the other feeds go on. Fetch- and parse-level details are in
test_fetch_faults.py and test_parse.py; this file checks what the service does with them."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli.main import _print_status
from bot.config import Config, Defaults
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.matching.match import Matcher
from bot.models import FeedSpec, Topic
from bot.service.metrics import Metrics
from bot.service.pipeline import MAX_BACKOFF_SECONDS, Runtime, backoff_delay, poll_feed
from bot.state.sqlite import SqliteStore as Store
from tests.feedserver import FeedServer
from tests.helpers import Item, rss

TOPIC = Topic("frt", ("#a",), '"facial recognition" AND ban*', 30.0)
GOOD = rss([Item("g1", "Council bans facial recognition", "A ban.")])


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runtime(tmp_path: Path, clock: Clock) -> Iterator[Runtime]:
    store = Store(tmp_path / "state.db", clock=clock)
    fetcher = Fetcher(
        FetchLimits(connect_timeout=0.5, read_timeout=0.5, total_timeout=1.5, max_bytes=256 * 1024)
    )
    config = Config(tmp_path / "c.yaml", Defaults(), (TOPIC,), (), ())
    rt = Runtime(config, Matcher([TOPIC]), store, fetcher, Metrics(), clock=clock)
    yield rt
    fetcher.close()
    store.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gzip_bomb(server: FeedServer, path: str) -> None:
    server.set_gzip_bomb(path, 50 * 1024 * 1024)


FAULTS: list[tuple[str, object, str]] = [
    ("connection-refused", lambda s, p: None, "connect"),
    ("dns-failure", lambda s, p: None, "dns"),
    ("read-timeout", lambda s, p: s.set_hang(p, 5), "timeout"),
    ("trickle", lambda s, p: s.set_trickle(p, b"<rss>", 0.2), "deadline"),
    ("http-500", lambda s, p: s.set_status(p, 500), "500"),
    ("http-502", lambda s, p: s.set_status(p, 502), "502"),
    ("http-503", lambda s, p: s.set_status(p, 503), "503"),
    ("http-404", lambda s, p: s.set_status(p, 404), "404"),
    ("redirect-loop", lambda s, p: s.set_redirect(p, p), "redirect"),
    (
        "login-page",
        lambda s, p: s.set_feed(
            p,
            b"<!DOCTYPE html><html><head><title>Sign in"
            b"</title></head><body><form>password</form>"
            b"</body></html>",
            content_type="text/html",
        ),
        "HTML page",
    ),
    ("malformed-xml", lambda s, p: s.set_feed(p, b"<rss><channel><item><title>x</ti"), "parse"),
    ("empty-body", lambda s, p: s.set_feed(p, b""), "empty"),
    ("huge-body", lambda s, p: s.set_huge(p, 200 * 1024 * 1024), "exceeds"),
    ("gzip-bomb", gzip_bomb, "exceeds"),
    (
        "billion-laughs",
        lambda s, p: s.set_feed(
            p,
            (
                b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;">'
                b'<!ENTITY c "&b;&b;&b;&b;&b;">]><rss><channel><title>&c;</title></channel></rss>'
            ),
        ),
        "parse",
    ),
]


def feed_url(case: str, server: FeedServer) -> str:
    if case == "connection-refused":
        return f"http://127.0.0.1:{closed_port()}/feed.xml"
    if case == "dns-failure":
        return "http://feeds.newsbot-test.invalid/feed.xml"
    return server.url(f"/{case}.xml")


@pytest.mark.parametrize(
    ("setup", "reason"), [(s, r) for _, s, r in FAULTS], ids=[name for name, _, _ in FAULTS]
)
def test_a_failing_feed_is_marked_with_its_reason_and_the_others_go_on(
    runtime: Runtime,
    feed_server: FeedServer,
    setup: object,
    reason: str,
    request: pytest.FixtureRequest,
) -> None:
    case = request.node.callspec.id
    setup(feed_server, f"/{case}.xml")  # type: ignore[operator]
    feed_server.set_feed("/good.xml", GOOD)
    bad = FeedSpec(feed_url(case, feed_server), interval=300)
    good = FeedSpec(feed_server.url("/good.xml"), interval=300)

    outcome = poll_feed(runtime, bad, force=True)
    healthy = poll_feed(runtime, good, force=True)

    assert outcome.status == "failed"
    assert reason.lower() in outcome.error.lower(), outcome.error
    state = runtime.store.feed_state(bad.url)
    assert state.consecutive_failures == 1
    assert reason.lower() in (state.last_error or "").lower()
    assert healthy.status == "ok"
    assert healthy.queued == 0  # the first poll of a feed added later: archive not alerted
    assert runtime.store.feed_state(good.url).consecutive_failures == 0


def test_wrong_declared_charset_still_delivers_the_stories(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    body = rss([Item("c1", "Caf\u00e9 owners fight facial recognition ban")]).replace(
        b'encoding="utf-8"', b'encoding="iso-8859-1"'
    )
    feed_server.set_feed("/charset.xml", body)
    outcome = poll_feed(runtime, FeedSpec(feed_server.url("/charset.xml")), force=True)
    assert outcome.status == "ok"
    assert outcome.new_stories == 1


def test_retry_after_is_honoured_not_hammered(
    runtime: Runtime, feed_server: FeedServer, clock: Clock
) -> None:
    feed_server.set_status("/busy.xml", 429, headers={"Retry-After": "3600"})
    feed = FeedSpec(feed_server.url("/busy.xml"), interval=60)
    assert poll_feed(runtime, feed).status == "failed"
    assert runtime.store.feed_state(feed.url).next_due >= clock.now + 3600
    clock.now += 600
    assert poll_feed(runtime, feed).status == "skipped"  # the scheduler's next tick: no request
    assert feed_server.count("/busy.xml") == 1
    clock.now += 3000
    feed_server.set_feed("/busy.xml", GOOD)
    assert poll_feed(runtime, feed).status == "ok"


def test_repeated_failures_back_off_exponentially_capped_and_recover(
    runtime: Runtime, feed_server: FeedServer, clock: Clock
) -> None:
    feed_server.set_status("/flaky.xml", 503)
    feed = FeedSpec(feed_server.url("/flaky.xml"), interval=300)
    delays = []
    for _ in range(4):
        poll_feed(runtime, feed, force=True)
        delays.append(runtime.store.feed_state(feed.url).next_due - clock.now)
    assert delays == [300, 600, 1200, 2400]
    assert backoff_delay(300, 30, None) == MAX_BACKOFF_SECONDS
    feed_server.set_feed("/flaky.xml", GOOD)
    clock.now += 2400
    assert poll_feed(runtime, feed).status == "ok"
    state = runtime.store.feed_state(feed.url)
    assert (state.consecutive_failures, state.last_error) == (0, None)


def test_410_disables_the_feed_and_reports_it(runtime: Runtime, feed_server: FeedServer) -> None:
    feed_server.set_status("/gone.xml", 410)
    feed = FeedSpec(feed_server.url("/gone.xml"))
    outcome = poll_feed(runtime, feed, force=True)
    assert outcome.status == "disabled"
    assert poll_feed(runtime, feed, force=True).status == "disabled"
    assert feed_server.count("/gone.xml") == 1  # never asked again
    report = io.StringIO()
    _print_status(runtime.store, report)
    line = next(row for row in report.getvalue().splitlines() if "/gone.xml" in row)
    assert "disabled" in line
    assert "410" in line
    runtime.store.enable_feed(feed.url)  # what `newsbot enable URL` does
    feed_server.set_feed("/gone.xml", GOOD)
    assert poll_feed(runtime, feed).status == "ok"


def test_status_table_shows_last_success_failures_and_last_error(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/ok.xml", GOOD)
    feed_server.set_status("/down.xml", 503)
    poll_feed(runtime, FeedSpec(feed_server.url("/ok.xml")), force=True)
    poll_feed(runtime, FeedSpec(feed_server.url("/down.xml")), force=True)
    report = io.StringIO()
    _print_status(runtime.store, report, wide=True)  # with URLs (names come from the config)
    text = report.getvalue()
    assert "LAST SUCCESS" in text
    assert "FAILURES" in text
    assert "LAST ERROR" in text
    down = next(row for row in text.splitlines() if "/down.xml" in row)
    assert "failing" in down
    assert "503" in down
    assert "never" in down
    ok = next(row for row in text.splitlines() if "/ok.xml" in row)
    assert " ok " in f"{ok} "
    assert "never" not in ok


def test_fetch_errors_are_counted_by_kind_in_the_metrics(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    feed_server.set_status("/m.xml", 500)
    poll_feed(runtime, FeedSpec(feed_server.url("/m.xml")), force=True)
    assert b'newsbot_fetch_errors_total{kind="http"} 1.0' in runtime.metrics.render()
