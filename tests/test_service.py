"""`newsbot run` as a service: health and metrics, hot config reload, clean SIGTERM shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import ROOT, TEST_TOPICS, Item, rss
from tests.slackstub import SlackStub


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class Service:
    def __init__(self, process: subprocess.Popen[str], port: int, config: Path, log: Path) -> None:
        self.process, self.port, self.config, self.log = process, port, config, log

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8")


def feeds_yaml(urls: list[str]) -> str:
    return "".join(f"- url: {url}\n  interval: 60\n" for url in urls)


@pytest.fixture
def service(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> Iterator[Service]:
    feed_server.set_feed(
        "/a.xml",
        rss(
            [Item("a1", "Town bans facial recognition by police", "The council voted for the ban.")]
        ),
    )
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
    (folder / "feeds.yaml").write_text(feeds_yaml([feed_server.url("/a.xml")]), encoding="utf-8")
    config = folder / "newsbot.yaml"
    config.write_text(
        "defaults:\n  jitter: 0\ntopics: topics.yaml\nfeeds: feeds.yaml\n", encoding="utf-8"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update(
        {
            "NEWSBOT_DB": str(tmp_path / "state.db"),
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.api_url,
            "NEWSBOT_HTTP_PORT": str(port),
            "NEWSBOT_LOG_FORMAT": "json",
        }
    )
    log = tmp_path / "service.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = Service(process, port, config, log)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


def test_service_reports_health_and_metrics_and_stops_cleanly_on_sigterm(
    service: Service, slack: SlackStub
) -> None:
    slack.wait_for_messages(1, timeout=20)
    wait_until(lambda: get(service.url("/readyz"))[0] == 200)
    status, body = get(service.url("/healthz"))
    assert status == 200
    assert json.loads(body)["status"] == "ok"
    _, metrics = get(service.url("/metrics"))
    assert "newsbot_feeds_polled_total" in metrics
    assert "newsbot_store_lock_wait_seconds_total" in metrics
    assert 'newsbot_alerts_delivered_total{channel="#frt-alerts",topic="frt-policy"} 1.0' in metrics
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=15) == 0
    assert "stopped cleanly" in service.logs()
    assert service.logs().count("listening") == 1  # the health server is announced once
    assert "posting alerts to Slack at" in service.logs()  # how alerts go out, said at start


def test_config_edits_apply_without_restart_and_bad_edits_are_rejected(
    service: Service, slack: SlackStub, feed_server: FeedServer
) -> None:
    slack.wait_for_messages(1, timeout=20)
    topics = service.config.parent / "topics.yaml"
    good_topics = topics.read_text(encoding="utf-8")
    topics.write_text(good_topics.replace("threshold: 30", "threshold: 300"), encoding="utf-8")
    wait_until(lambda: "config change rejected" in service.logs())
    assert "threshold: must be <= 100" in service.logs()  # the message `newsbot check` gives
    status, body = get(service.url("/readyz"))
    assert status == 503  # the rejected edit is reported where operators look, until fixed
    assert "edit rejected: " in json.loads(body)["checks"]["config"]
    assert "topics.yaml:3 topics[frt-policy].threshold: must be <= 100" in body
    time.sleep(2.5)
    assert service.logs().count("config change rejected") == 1  # logged once, not every check

    feed_server.set_feed(
        "/b.xml",
        rss([Item("b1", "Old archive item about a face scanning ban", "Archived.", hours_ago=72)]),
    )
    feeds = service.config.parent / "feeds.yaml"
    feeds.write_text(
        feeds_yaml([feed_server.url("/a.xml"), feed_server.url("/b.xml")]), encoding="utf-8"
    )
    topics.write_text(good_topics, encoding="utf-8")
    wait_until(lambda: "config reloaded" in service.logs())
    wait_until(lambda: json.loads(get(service.url("/readyz"))[1])["checks"]["config"] == "ok")
    wait_until(lambda: feed_server.count("/b.xml") >= 1)  # the new feed starts polling
    assert service.process.poll() is None
    assert len(slack.messages) == 1  # a feed's first poll posts nothing older than 24 h
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=15) == 0


def test_when_every_feed_fails_the_service_says_so_once(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
    (folder / "feeds.yaml").write_text(
        feeds_yaml([f"http://feed{n}.newsbot-test.invalid/rss" for n in range(3)]),
        encoding="utf-8",
    )
    config = folder / "newsbot.yaml"
    config.write_text(
        "defaults:\n  jitter: 0\ntopics: topics.yaml\nfeeds: feeds.yaml\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update({"NEWSBOT_DB": str(tmp_path / "state.db"), "NEWSBOT_HTTP_PORT": "0"})
    log = tmp_path / "service.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_until(lambda: "all 3 feeds failed" in log.read_text(encoding="utf-8"), timeout=30)
        time.sleep(2.5)  # reload checks and the outbox go on; the outage is not repeated
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    text = log.read_text(encoding="utf-8")
    assert text.count("all 3 feeds failed: DNS; is there network?") == 1, text
    assert "no SLACK_BOT_TOKEN: alerts are printed here" in text
