"""One undecodable outbox row must not stop delivery (issue 11 #10).

Before: a queued alert whose stored payload could not be decoded raised on every delivery round,
so no alert of any channel went out and a traceback was logged every second. Now that row is set
aside as failed, with its reason (shown by `newsbot status`), and the others are delivered.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    Item,
    get,
    newsbot,
    rss,
    running_service,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

STORIES = [
    Item("a", "Springfield bans facial recognition by police", "The council voted 7-2."),
    Item("b", "Shelbyville passes a facial recognition law", "The state senate voted."),
    Item("c", "Ogdenville pauses facial recognition for a year", "A moratorium, the mayor said."),
]


CORRUPTIONS = [
    pytest.param("UPDATE alerts SET payload = ? WHERE id = ?", ("{not json",), id="bad-json"),
    pytest.param("UPDATE alerts SET payload = ? WHERE id = ?", ('{"story": 1}',), id="fields"),
    pytest.param(
        "UPDATE alerts SET payload = CAST(? AS TEXT) WHERE id = ?",
        (b'{"x": "\xff\xfe"}',),
        id="not-utf8",
    ),
]


def _queued_with_damaged_head(
    tmp_path: Path, feed_server: FeedServer, corruption: str, params: tuple[object, ...]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Three alerts queued by a real run while Slack was down, the channel's first one then
    damaged in the file (the service stopped): the `run` arguments and the offline settings."""
    feed_server.set_feed("/a.xml", rss(STORIES))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    state = tmp_path / "state.db"
    offline = {
        "NEWSBOT_DB": str(state),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens: the alerts stay queued
    }
    args = ("--config", str(config), "--feeds", str(feeds))
    queued = newsbot("run", "--once", *args, env=offline)
    assert queued.returncode == 3, queued.stderr
    with sqlite3.connect(state) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM alerts ORDER BY seq")]
        assert len(ids) == 3
        db.execute(corruption, (*params, ids[0]))  # the channel's first alert: the head
    return args, offline


@pytest.mark.parametrize(("corruption", "params"), CORRUPTIONS)
def test_one_undecodable_outbox_row_is_parked_and_the_rest_delivered(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    corruption: str,
    params: tuple[object, ...],
) -> None:
    args, offline = _queued_with_damaged_head(tmp_path, feed_server, corruption, params)
    online = {**offline, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url}
    result = newsbot("run", "--once", *args, env=online, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(slack.messages) == 2, result.stderr
    assert result.returncode == 3, result.stderr  # one alert could not be delivered
    assert "stored alert cannot be read" in result.stderr
    status = newsbot("status", *args[:2], env=online)
    assert "1 failed" in status.stdout, status.stdout
    assert "stored alert cannot be read" in status.stdout + status.stderr


@pytest.mark.parametrize(("corruption", "params"), CORRUPTIONS)
def test_a_damaged_outbox_row_breaks_neither_status_nor_later_polls(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    corruption: str,
    params: tuple[object, ...],
) -> None:
    """The damaged row stays in the file once set aside: `status` lists it and clustering reads
    the channel's earlier alerts, so both must get past it (before: a traceback, exit 1, from
    `status`; every later poll of the channel's feeds failed with `kind=internal`)."""
    args, offline = _queued_with_damaged_head(tmp_path, feed_server, corruption, params)
    online = {**offline, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url}
    waiting = newsbot("status", *args[:2], env=online)
    assert waiting.returncode == 0, waiting.stderr
    assert "(stored alert cannot be read)" in waiting.stdout  # its headline, in `last alerts`
    delivered = newsbot("run", "--once", *args, env=online)
    assert delivered.returncode == 3, delivered.stderr
    assert "set aside (stored alert cannot be read" in delivered.stderr
    assert "refused by Slack" not in delivered.stderr  # Slack never saw it
    failed = newsbot("status", *args[:2], env=online)
    assert failed.returncode == 0, failed.stderr
    assert "Traceback" not in failed.stderr
    assert "1 alert failed for #frt-alerts" in failed.stdout, failed.stdout
    assert "its stored copy is damaged, so it is never posted" in failed.stdout
    later = Item("d", "Capital City halts facial recognition", "A moratorium, the mayor said.")
    feed_server.set_feed("/a.xml", rss([*STORIES, later]))
    polled = newsbot("run", "--once", *args, env=online)
    assert "feed failed" not in polled.stderr, polled.stderr
    assert polled.returncode == 0, polled.stderr
    assert len(slack.messages) == 3, polled.stderr
    assert "Capital City halts facial recognition" in str(slack.messages[-1])


def test_a_damaged_outbox_row_in_the_service_is_set_aside_once(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    """Before: the service's delivery round raised on the row every second, with a traceback,
    and posted nothing. Now: one log line, the others posted, and a clean stop."""
    args, offline = _queued_with_damaged_head(tmp_path, feed_server, *CORRUPTIONS[0].values)
    online = {**offline, "SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url}
    log = tmp_path / "service.log"
    with running_service(Path(args[1]), online, log, extra_args=args[2:]) as service:
        slack.wait_for_messages(2, timeout=30)
        wait_until(lambda: get(service.url("/readyz"))[1].count("0 queued") == 1, timeout=15)
        code = service.stop()
    logs = service.logs()
    assert code == 0, logs
    assert logs.count("stored alert cannot be read: set aside as failed") == 1, logs
    assert "Traceback" not in logs
    assert "delivery round crashed" not in logs
