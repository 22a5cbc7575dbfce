"""A feed that trickles its response headers (issue 11, item 1) is cut off at the fetch deadline:
`run --once` returns and posts the other feeds' stories; in the service, trickling feeds never
starve the other feeds or the config reload, hold at most one worker each, and SIGTERM stops the
service at once even while they are in flight."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    ROOT,
    TEST_TOPICS,
    Item,
    clean_env,
    env_for,
    free_port,
    newsbot,
    rss,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

DEADLINE = 3  # seconds: defaults.fetch_deadline in these tests
GOOD = [Item("g1", "Council bans facial recognition in schools", "The ban starts in May.")]
TRICKLES = 9  # more than the service's eight poll workers


def test_header_trickle_run_once_returns_within_the_deadline_and_posts_the_good_feed(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_header_trickle("/slow.xml", 0.2)
    feed_server.set_feed("/good.xml", rss(GOOD))
    config = write_config(tmp_path / "config", extra_defaults=f"  fetch_deadline: {DEADLINE}\n")
    feeds = write_feed_list(tmp_path, [feed_server.url("/slow.xml"), feed_server.url("/good.xml")])
    env = env_for(tmp_path, slack)
    # The bound: the deadline plus a few seconds for the process to start, post and exit.
    result = newsbot(
        "run",
        "--once",
        "--config",
        str(config),
        "--feeds",
        str(feeds),
        env=env,
        timeout=DEADLINE + 12,
    )
    assert result.returncode == 0, result.stderr
    assert "polled 2 feeds (1 failed)" in result.stderr
    assert f"no complete response within the {DEADLINE} s deadline" in result.stderr
    assert len(slack.messages) == 1
    assert GOOD[0].title in slack.messages[0]["text"]


class Running:
    def __init__(
        self,
        tmp_path: Path,
        feed_server: FeedServer,
        slack: SlackStub,
        deadline: float,
        urls: list[str],
    ) -> None:
        folder = tmp_path / "config"
        folder.mkdir()
        (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
        self.feeds = folder / "feeds.yaml"
        self.set_feeds(urls)
        config = folder / "newsbot.yaml"
        config.write_text(
            f"defaults:\n  jitter: 0\n  interval: 10\n  fetch_deadline: {deadline}\n"
            "topics: topics.yaml\nfeeds: feeds.yaml\n",
            encoding="utf-8",
        )
        env = clean_env(
            {
                **env_for(tmp_path, slack),
                "NEWSBOT_HTTP_PORT": str(free_port()),
                "NEWSBOT_LOG_FORMAT": "json",
            }
        )
        self.log = tmp_path / "service.log"
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def set_feeds(self, urls: list[str]) -> None:
        self.feeds.write_text("".join(f"- url: {url}\n" for url in urls), encoding="utf-8")

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=10)  # promptly: well before any fetch deadline


@pytest.fixture
def trickling(feed_server: FeedServer) -> list[str]:
    paths = [f"/slow{n}.xml" for n in range(TRICKLES)]
    for path in paths:
        feed_server.set_header_trickle(path, 0.2)
    return paths


@pytest.fixture
def cleanup() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def test_header_trickle_feeds_do_not_stop_other_feeds_or_the_reload(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    trickling: list[str],
    cleanup: list[Running],
) -> None:
    feed_server.set_feed("/good.xml", rss(GOOD))
    feed_server.set_feed("/added.xml", rss([]))
    urls = [feed_server.url(path) for path in [*trickling, "/good.xml"]]
    service = Running(tmp_path, feed_server, slack, DEADLINE, urls)
    cleanup.append(service)
    wait_until(lambda: feed_server.count("/good.xml") >= 2, timeout=40)  # polled again and again
    slack.wait_for_messages(1, timeout=10)
    service.set_feeds([*urls, feed_server.url("/added.xml")])
    wait_until(lambda: "config reloaded" in service.logs(), timeout=20)  # the reload job runs
    wait_until(lambda: feed_server.count("/added.xml") >= 1, timeout=20)
    # Each trickling feed is cut off at the deadline and, after its backoff, polled again.
    wait_until(lambda: all(feed_server.count(path) >= 2 for path in trickling), timeout=40)
    assert max(feed_server.max_in_flight(path) for path in trickling) == 1  # one worker per feed
    assert "maximum number of running instances" not in service.logs()
    assert service.terminate() == 0
    assert "stopped cleanly" in service.logs()


def test_header_trickle_in_flight_never_delays_sigterm(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    trickling: list[str],
    cleanup: list[Running],
) -> None:
    urls = [feed_server.url(path) for path in trickling]
    service = Running(tmp_path, feed_server, slack, 600, urls)  # the deadline never comes
    cleanup.append(service)
    wait_until(lambda: all(feed_server.count(path) >= 1 for path in trickling[:8]), timeout=20)
    assert service.terminate() == 0
    logs = service.logs()
    assert "stopped cleanly" in logs
    assert "feed failed" not in logs  # an aborted poll is not the feed's failure
