"""Crashes: newsbot SIGKILLed again and again delivers every relevant story exactly once.

The scenario lives in bench/crash.py (also a command line); here it runs at full strength, 20
SIGKILLs of the real process, about 45 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import crash
from tests.feedserver import FeedServer
from tests.helpers import Item, env_for, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 45 s alone; much more on a loaded 2-core machine
def test_twenty_sigkills_lose_nothing_and_post_nothing_twice() -> None:
    result = crash.run(kills=20, seed=7)
    print(result.summary())
    assert result.lost == [], result.summary()
    assert result.duplicated == [], result.summary()
    assert result.duplicate_ids == 0, result.summary()
    assert result.unexpected == [], result.summary()
    assert result.expected == result.delivered > 0


def test_a_failed_history_lookup_does_not_post_an_unknown_outcome_again(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed(
        "/a.xml", rss([Item("r1", "Springfield council bans facial recognition", hours_ago=0.1)])
    )
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = env_for(tmp_path, slack)
    args = ("run", "--once", "--config", str(config), "--feeds", str(feeds))
    slack.fail_next("chat.postMessage", drop=True)  # Slack has it; the answer is lost
    assert newsbot(*args, env=env).returncode == 3  # left undelivered, as far as it knows
    slack.fail_next("conversations.history", status=500)  # the check for it fails once
    assert newsbot(*args, env=env).returncode == 3
    assert newsbot(*args, env=env).returncode == 0
    assert len(slack.messages) == 1, [m["text"] for m in slack.messages]
