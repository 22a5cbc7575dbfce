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
from tests.helpers import Item, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

STORIES = [
    Item("a", "Springfield bans facial recognition by police", "The council voted 7-2."),
    Item("b", "Shelbyville passes a facial recognition law", "The state senate voted."),
    Item("c", "Ogdenville pauses facial recognition for a year", "A moratorium, the mayor said."),
]


@pytest.mark.parametrize(
    ("corruption", "params"),
    [
        pytest.param("UPDATE alerts SET payload = ? WHERE id = ?", ("{not json",), id="bad-json"),
        pytest.param("UPDATE alerts SET payload = ? WHERE id = ?", ('{"story": 1}',), id="fields"),
        pytest.param(
            "UPDATE alerts SET payload = CAST(? AS TEXT) WHERE id = ?",
            (b'{"x": "\xff\xfe"}',),
            id="not-utf8",
        ),
    ],
)
def test_one_undecodable_outbox_row_is_parked_and_the_rest_delivered(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    corruption: str,
    params: tuple[object, ...],
) -> None:
    feed_server.set_feed("/a.xml", rss(STORIES))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    state = tmp_path / "state.db"
    offline = {
        "NEWSBOT_DB": str(state),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing listens: the alerts stay queued
    }
    args = ("--config", str(config), "--feeds", str(feeds))
    queued = newsbot("run", "--once", *args, env=offline)
    assert queued.returncode == 3, queued.stderr
    with sqlite3.connect(state) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM alerts ORDER BY seq")]
        assert len(ids) == 3
        db.execute(corruption, (*params, ids[0]))  # the channel's first alert: the head
    online = {**offline, "SLACK_API_URL": slack.api_url}
    result = newsbot("run", "--once", *args, env=online, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(slack.messages) == 2, result.stderr
    assert result.returncode == 3, result.stderr  # one alert could not be delivered
    assert "stored alert cannot be read" in result.stderr
    status = newsbot("status", "--config", str(config), env=online)
    assert "1 failed" in status.stdout, status.stdout
    assert "stored alert cannot be read" in status.stdout + status.stderr
