"""`newsbot run` as a service: health and metrics, hot config reload, clean SIGTERM shutdown."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    TEST_TOPICS,
    Item,
    ServiceProcess,
    env_for,
    get,
    rss,
    running_service,
    wait_until,
)
from tests.slackstub import SlackStub


def feeds_yaml(urls: list[str]) -> str:
    return "".join(f"- url: {url}\n  interval: 60\n" for url in urls)


@pytest.fixture
def service(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> Iterator[ServiceProcess]:
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
    env = {
        **env_for(tmp_path, slack),
        "NEWSBOT_LOG_FORMAT": "json",
    }
    with running_service(config, env, tmp_path / "service.log") as running:
        yield running


def test_service_reports_health_and_metrics_and_stops_cleanly_on_sigterm(
    service: ServiceProcess, slack: SlackStub
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
    assert service.stop() == 0
    assert "stopped cleanly" in service.logs()
    assert service.logs().count("listening") == 1  # the health server is announced once
    assert "posting alerts to Slack at" in service.logs()  # how alerts go out, said at start


def test_config_edits_apply_without_restart_and_bad_edits_are_rejected(
    service: ServiceProcess, slack: SlackStub, feed_server: FeedServer
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
    assert service.stop() == 0


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
    env = {"NEWSBOT_DB": str(tmp_path / "state.db"), "NEWSBOT_HTTP_PORT": "0"}
    with running_service(config, env, tmp_path / "service.log") as running:
        wait_until(lambda: "all 3 feeds failed" in running.logs(), timeout=30)
        time.sleep(2.5)  # reload checks and the outbox go on; the outage is not repeated
        running.stop()
    text = running.logs()
    assert text.count("all 3 feeds failed: DNS; is there network?") == 1, text
    assert "no SLACK_BOT_TOKEN: alerts are printed here" in text
