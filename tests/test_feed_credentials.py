"""Credentials in a feed URL (issue 11, item 2) never show: not in log lines (text or JSON, even at
DEBUG), not in `newsbot status`, not in `/metrics`, not in error messages. Feeds are shown by
their configured name or by a redacted URL."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.logs import setup_logging
from tests.feedserver import FeedServer
from tests.helpers import (
    TEST_TOPICS,
    Item,
    env_for,
    get,
    newsbot,
    rss,
    running_service,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

PASSWORD = "pw-SECRET-hunter2"
API_KEY = "key-SECRET-0042"
STORY = Item("c1", "City bans facial recognition at the stadium", "The ban starts today.")
# Stories that take the other log paths: older than the first poll's backfill, and dated ahead.
OLD = Item("c0", "Weather report for the weekend", "Sunny.", hours_ago=500)
AHEAD = Item("c2", "Garden show opens next month", "Roses.", hours_ago=-72)


def secret_url(server: FeedServer, path: str, param: str = "api_key") -> str:
    parts = urlsplit(server.url(path))
    return f"http://user:{PASSWORD}@{parts.netloc}{parts.path}?{param}={API_KEY}&lang=en"


def assert_no_secret(text: str) -> None:
    assert PASSWORD not in text
    assert API_KEY not in text
    assert "SECRET" not in text


@pytest.fixture
def feeds(feed_server: FeedServer) -> list[str]:
    feed_server.set_feed("/a.xml", rss([STORY, OLD, AHEAD]))
    feed_server.set_status("/down.xml", 500)
    feed_server.set_feed(
        "/page.html", b"<html><body>Sign in</body></html>", content_type="text/html"
    )
    feed_server.set_redirect("/moved.xml", "/gone.xml")
    feed_server.set_status("/gone.xml", 410)
    return [
        secret_url(feed_server, "/a.xml"),
        secret_url(feed_server, "/down.xml", "token"),
        secret_url(feed_server, "/page.html", "sig"),
        secret_url(feed_server, "/moved.xml", "access_token"),
        f"http://user:{PASSWORD}@127.0.0.1:1/refused.xml?key={API_KEY}",
    ]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_feed_credentials_never_show_in_logs_status_or_errors(
    tmp_path: Path, feeds: list[str], slack: SlackStub, log_format: str
) -> None:
    config = write_config(tmp_path / "config")
    feed_list = write_feed_list(tmp_path, feeds)
    env = {
        **env_for(tmp_path, slack),
        "NEWSBOT_LOG_LEVEL": "DEBUG",
        "NEWSBOT_LOG_FORMAT": log_format,
    }
    run = newsbot("run", "--once", "--config", str(config), "--feeds", str(feed_list), env=env)
    assert run.returncode == 0, run.stderr
    assert "polled 5 feeds (4 failed)" in run.stderr
    for reason in ("HTTP 500", "looks like an HTML page", "410 Gone", "connection refused"):
        assert reason in run.stderr  # every failure is reported...
    assert_no_secret(run.stdout + run.stderr)  # ...without the credentials
    assert len(slack.messages) == 1
    assert STORY.title in slack.messages[0]["text"]
    assert_no_secret(json.dumps(slack.messages))

    status = newsbot("status", env=env)
    assert status.returncode == 0, status.stderr
    assert "/down.xml" in status.stdout
    assert "HTTP 500" in status.stdout
    assert_no_secret(status.stdout + status.stderr)
    enable = newsbot("enable", feeds[3], env=env)
    assert enable.returncode == 0, enable.stderr
    assert "enabled" in enable.stdout
    assert_no_secret(enable.stdout + enable.stderr)


def test_feed_credentials_never_show_in_metrics_or_service_logs(
    tmp_path: Path, feeds: list[str], slack: SlackStub
) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
    named = f"- url: {feeds[0]}\n  name: Outlet A\n"
    (folder / "feeds.yaml").write_text(
        named + "".join(f"- url: {url}\n" for url in feeds[1:]), encoding="utf-8"
    )
    config = folder / "newsbot.yaml"
    config.write_text(
        "defaults:\n  jitter: 0\ntopics: topics.yaml\nfeeds: feeds.yaml\n", encoding="utf-8"
    )
    env = {
        **env_for(tmp_path, slack),
        "NEWSBOT_LOG_FORMAT": "json",
        "NEWSBOT_LOG_LEVEL": "DEBUG",
    }
    with running_service(config, env, tmp_path / "service.log") as service:
        slack.wait_for_messages(1, timeout=20)
        wait_until(lambda: service.logs().count('"feed failed"') >= 4)
        status, metrics = get(service.url("/metrics"))
        assert status == 200
        assert_no_secret(metrics)
        assert 'newsbot_feeds_polled_total{feed="Outlet A"} 1.0' in metrics
        assert "/down.xml" in metrics  # an unnamed feed: its redacted URL
        assert service.stop() == 0
    logs = service.logs()
    assert "HTTP 500" in logs
    assert_no_secret(logs)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_feed_credentials_a_forgetful_call_site_is_redacted_by_the_log_setup(
    log_format: str,
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(log_format, "INFO", stream=stream)
        url = f"http://user:{PASSWORD}@feeds.example/x?api_key={API_KEY}"
        logging.getLogger("bot.somewhere").info("polled", extra={"feed_url": url})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert "http://***@feeds.example/x?api_key=***" in stream.getvalue()
    assert_no_secret(stream.getvalue())
