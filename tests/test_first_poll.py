"""The first-poll rule and the per-poll cap, through the real `newsbot` process.

A feed the state has never polled alerts only on stories published within `backfill_hours`;
older and undated ones are only marked seen. Every poll alerts at most `max_alerts_per_poll`
stories per feed; the rest are listed in one "and N more" message.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from tests.feedserver import FeedServer
from tests.helpers import Item, env_for, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

TOWNS = ("Ashford", "Belmont", "Corby", "Dunmore", "Elgin", "Fenwick", "Garston", "Holt")


def ban(n: int, hours_ago: float) -> Item:
    """A relevant story about a different town each, so none folds into another's thread."""
    town = TOWNS[n % len(TOWNS)]
    return Item(
        f"s{n}",
        f"{town} council votes to ban facial recognition (story {n})",
        f"{town} becomes the latest city to bar police face recognition.",
        hours_ago=hours_ago,
    )


def setup(tmp_path: Path, feed_server: FeedServer, slack: SlackStub, defaults: str = "") -> dict:
    config = write_config(tmp_path / "config", extra_defaults=defaults)
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = env_for(tmp_path, slack)
    return {"config": str(config), "feeds": str(feeds), "env": env}


def run_once(ctx: dict, *extra: str) -> tuple[str, str]:
    result = newsbot(
        "run", "--once", "--config", ctx["config"], "--feeds", ctx["feeds"], *extra, env=ctx["env"]
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def story_numbers(slack: SlackStub) -> list[str]:
    """The "(story N)" of each posted alert, in posting order."""
    found = []
    for message in slack.messages:
        text = str(message["text"])
        if "(story " in text and not text.startswith("…and"):
            found.append(text.split("(story ", 1)[1].split(")", 1)[0])
    return found


def test_ten_day_old_items_post_nothing_and_later_stories_post_once_each(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    archive = [ban(n, hours_ago=240 + n) for n in range(5)]
    feed_server.set_feed("/a.xml", rss(archive, "Outlet A"))
    ctx = setup(tmp_path, feed_server, slack)
    _, err = run_once(ctx)
    assert slack.messages == [], [m["text"] for m in slack.messages]
    assert "5 new stories" in err
    assert "5 older or undated stories only marked seen (first poll)" in err
    fresh = [ban(6, hours_ago=0.02), ban(7, hours_ago=0.01)]
    feed_server.set_feed("/a.xml", rss(fresh + archive, "Outlet A"))
    run_once(ctx)
    run_once(ctx)
    assert sorted(story_numbers(slack)) == ["6", "7"]


def test_undated_items_are_only_marked_seen_on_a_first_poll(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed("/a.xml", undated_rss([ban(1, 0), ban(2, 0)]))
    ctx = setup(tmp_path, feed_server, slack)
    _, err = run_once(ctx)
    assert slack.messages == []
    assert "2 older or undated stories only marked seen" in err
    feed_server.set_feed("/a.xml", undated_rss([ban(3, 0), ban(1, 0), ban(2, 0)]))
    run_once(ctx)  # a later poll: an undated story is new to us, so it alerts
    assert story_numbers(slack) == ["3"]


def test_dry_run_shows_what_the_first_poll_would_post_and_skip(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed("/a.xml", rss([ban(1, hours_ago=2), ban(2, hours_ago=240)], "Outlet A"))
    ctx = setup(tmp_path, feed_server, slack)
    out, _ = run_once(ctx, "--dry-run")
    posted, skipped = out.split("skip:", 1)
    assert "(story 1)" in posted
    assert "(story 2)" in skipped
    assert "first poll: published 10 days ago, before the 24 h backfill window" in skipped
    assert slack.messages == []
    run_once(ctx)  # the dry run changed nothing: the real first poll decides the same
    assert story_numbers(slack) == ["1"]


@pytest.mark.parametrize("first_poll", [True, False], ids=["first poll", "later poll"])
def test_over_the_cap_the_rest_go_into_one_and_n_more_message(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub, first_poll: bool
) -> None:
    ctx = setup(tmp_path, feed_server, slack, defaults="  max_alerts_per_poll: 3\n")
    old = [] if first_poll else [ban(100, 500)]
    if not first_poll:
        feed_server.set_feed("/a.xml", rss(old, "Outlet A"))
        run_once(ctx)
    burst = [ban(n, hours_ago=1 + n / 10) for n in range(7)]  # story 0 is the newest
    feed_server.set_feed("/a.xml", rss(burst + old, "Outlet A"))
    _, err = run_once(ctx)
    assert sorted(story_numbers(slack)) == ["0", "1", "2"]
    (more,) = [m for m in slack.messages if str(m["text"]).startswith("…and")]
    listed = str(more["blocks"])
    for n in range(3, 7):
        assert f"(story {n})" in listed
        assert f"https://news.example/s{n}" in listed
    assert "…and 4 more matching stories" in str(more["text"])
    assert more["metadata"]["event_payload"]["alert_id"].startswith("more-")
    assert "4 over the per-poll cap, listed in 'and N more' messages" in err
    count = len(slack.messages)
    run_once(ctx)
    assert len(slack.messages) == count


def undated_rss(items: list[Item]) -> bytes:
    entries = "".join(
        f"<item><guid>{item.guid}</guid><title>{escape(item.title)}</title>"
        f"<link>https://news.example/{item.guid}</link></item>"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Undated</title>'
        f"<link>https://news.example/</link><description>t</description>{entries}</channel></rss>"
    ).encode()


TWO_TOPICS = """\
- name: frt-now
  channels: ["#frt-now"]
  threshold: 30
  query: ("facial recognition" OR "face recognition") AND ban*
- name: frt-daily
  channels: ["#frt-daily"]
  threshold: 30
  delivery: digest
  query: ("facial recognition" OR "face recognition") AND ban*
"""


def test_over_the_cap_a_digest_topic_holds_everything_for_its_digest(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    ctx = setup(tmp_path, feed_server, slack, defaults="  max_alerts_per_poll: 2\n")
    (tmp_path / "config" / "topics.yaml").write_text(TWO_TOPICS, encoding="utf-8")
    feed_server.set_feed("/a.xml", rss([ban(n, hours_ago=1 + n / 10) for n in range(5)]))
    _, err = run_once(ctx)
    assert "3 over the per-poll cap" in err
    assert "5 held for digests" in err
    now = slack.messages_in("#frt-now")
    assert len(now) == 3  # two alerts and one "and 3 more"
    assert slack.messages_in("#frt-daily") == []
    result = newsbot("digest", "--config", ctx["config"], env=ctx["env"])
    assert result.returncode == 0, result.stderr
    (daily,) = slack.messages_in("#frt-daily")
    listed = str(daily["blocks"])
    assert all(f"(story {n})" in listed for n in range(5))
