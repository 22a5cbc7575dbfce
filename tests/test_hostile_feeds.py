"""Hostile feed items (issue 11 #4, #5): one bad item never silences its feed, and story text is
capped at parse time, before matching and storage."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.feeds import parse
from bot.feeds.parse import MAX_SUMMARY, MAX_TITLE, parse_feed
from bot.models import Story
from tests.feedserver import FeedServer
from tests.helpers import Item, env_for, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

GOOD = [
    Item(
        "g1",
        "Springfield council votes to ban police use of facial recognition",
        "The ordinance bars every city department from using face recognition.",
    ),
    Item(
        "g2",
        "Retailer pauses face recognition in stores after regulator fine",
        "The data protection authority fined the chain over its face scanning program.",
    ),
]
FEED = "https://news.example/feed.json"


def _json_feed(items: list[dict[str, object]]) -> bytes:
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "Outlet J", "items": items}
    return json.dumps(document).encode()  # ensure_ascii: a lone surrogate stays "\ud800"


def _json_item(item: Item) -> dict[str, object]:
    return {
        "id": item.guid,
        "url": f"https://news.example/{item.guid}",
        "title": item.title,
        "content_text": item.summary,
        # Recent whenever the test runs: a fixed date falls out of the first poll's window.
        "date_published": (datetime.now(UTC) - timedelta(hours=item.hours_ago)).isoformat(),
    }


def _run_once(tmp_path: Path, url: str, slack: SlackStub) -> tuple[int, str]:
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [url])
    env = env_for(tmp_path, slack)
    result = newsbot("run", "--once", "--config", str(config), "--feeds", str(feeds), env=env)
    return result.returncode, result.stderr


def test_json_feed_lone_surrogate_item_is_skipped_and_the_good_items_are_posted(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    bad_id = {**_json_item(Item("x", "Council bans facial recognition")), "id": "bad\ud800id"}
    bad_url = {
        **_json_item(Item("y", "City pauses face recognition")),
        "url": "https://news.example/\ud800",
    }
    body = _json_feed([bad_id, _json_item(GOOD[0]), bad_url, _json_item(GOOD[1])])
    assert b"\\ud800" in body
    feed_server.set_feed("/j.json", body, content_type="application/feed+json")
    code, err = _run_once(tmp_path, feed_server.url("/j.json"), slack)
    assert "Traceback" not in err
    assert code == 0, err[-3000:]
    posted = [message["text"] for message in slack.messages]
    assert len(posted) == 2, (posted, err[-3000:])
    assert any("Springfield council" in text for text in posted)
    assert any("Retailer pauses" in text for text in posted)
    assert err.count("skipped 2 unreadable items") == 1, err[-3000:]


def test_rss_item_with_a_lone_surrogate_reference_does_not_crash_its_feed() -> None:
    # &#xD800; names no character: feedparser raised on it and the whole feed was lost.
    items = [Item("bad", "Council bans facial recognition XX", "YY"), *GOOD]
    body = rss(items).replace(b"XX", b"&#xD800;").replace(b"YY", b"&#99999999;")
    stories = parse_feed(body, feed_url="https://news.example/rss.xml").stories
    assert [s.id for s in stories] == ["bad", "g1", "g2"]
    assert stories[0].title == "Council bans facial recognition \ufffd"
    assert stories[0].summary == "\ufffd"


def test_rss_item_that_fails_to_convert_is_skipped_and_the_rest_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = parse.canonical_url

    def failing(url: str) -> str:  # any fault inside one entry's conversion
        if "g1" in url:
            raise ValueError("cannot read this link")
        return real(url)

    monkeypatch.setattr(parse, "canonical_url", failing)
    body = rss([Item("x", "Council bans facial recognition"), *GOOD])
    stories = parse_feed(body, feed_url="https://news.example/rss.xml").stories
    assert [s.id for s in stories] == ["x", "g2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["skipped 1 unreadable item (first: ValueError: cannot read this link)"]


def test_huge_title_and_summary_are_capped_at_parse_time() -> None:
    huge = [Item("h1", "ban " * 2_000_000, "moratorium " * 2_000_000)]
    story: Story = parse_feed(rss(huge), feed_url="https://news.example/rss.xml").stories[0]
    assert len(story.title) <= MAX_TITLE
    assert len(story.summary) <= MAX_SUMMARY
    assert story.title.endswith("\u2026")
    assert story.summary.endswith("\u2026")
    long_id = {
        **_json_item(GOOD[0]),
        "id": "i" * 100_000,
        "url": "https://news.example/" + "p" * 100_000,
    }
    parsed = parse_feed(_json_feed([long_id]), feed_url=FEED).stories[0]
    assert parsed.id.startswith("sha256:")
    assert parsed.url == ""  # a link longer than MAX_URL is dropped, not cut


def test_story_text_caps_hold_through_the_real_process(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    title = "Council votes to ban police facial recognition " + "x" * 8_000_000
    feed_server.set_feed("/big.xml", rss([Item("big", title, "Face recognition ban."), GOOD[0]]))
    code, err = _run_once(tmp_path, feed_server.url("/big.xml"), slack)
    assert code == 0, err[-3000:]
    assert len(slack.messages) == 2
    assert max(len(json.dumps(message)) for message in slack.messages) < 60_000
    database = tmp_path / "state.db"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        longest = 0
        for (table,) in rows:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                value = db.execute(f'SELECT max(length("{column}")) FROM {table}').fetchone()
                longest = max(longest, value[0] or 0)
    assert longest < 200_000, longest
    assert database.stat().st_size < 5_000_000
