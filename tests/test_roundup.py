"""The "and N more" list (bot/alerts/roundup.py): escaped, linked, inside Slack's limits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.format import MAX_BLOCKS, SECTION_TEXT_MAX
from bot.alerts.roundup import post_id, render_digest, render_more
from bot.models import Alert, Match, Story

WHEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def story(n: int, title: str = "", url: str = "") -> Story:
    return Story(
        f"s{n}",
        url or f"https://news.example/s{n}",
        title or f"Council bans facial recognition (story {n})",
        "",
        "Outlet",
        WHEN,
    )


def test_each_story_is_a_linked_line_with_outlet_and_time() -> None:
    post = render_more("#frt", ["frt-policy"], "Outlet A", [story(1), story(2)], 20)
    text = " ".join(block["text"]["text"] for block in post.message.blocks or [])
    assert "…and 2 more matching stories (*frt-policy*) from Outlet A" in text
    assert "at most 20 alerts are posted per feed per poll" in text
    assert (
        "• <https://news.example/s1|Council bans facial recognition (story 1)> · *Outlet* · <!date^"
        in text
    )
    assert "{time}|2026-11-28 09:30 UTC>" in text  # a date token with a plain fallback
    assert (post.kind, post.channel, post.topic) == ("more", "#frt", "frt-policy")


@pytest.mark.parametrize(
    ("title", "url", "raw", "escaped"),
    [
        ("<!channel> bans & <@U1>", "", "<!channel>", "&lt;!channel&gt; bans &amp; &lt;@U1&gt;"),
        ("Forged <https://evil.example|Click>", "", "<https://evil.example|", "&lt;https://evil"),
        ("Plain", "javascript:alert(1)", "<javascript:", "Plain"),
    ],
    ids=["mentions", "forged link", "unsafe url"],
)
def test_feed_text_is_escaped(title: str, url: str, raw: str, escaped: str) -> None:
    post = render_more("#frt", ["t"], "<b>Feed</b>", [story(1, title, url)], 20)
    rendered = post.message.text + str(post.message.blocks)
    assert raw not in rendered
    assert escaped in rendered
    assert "<b>" not in rendered


def test_thousands_of_stories_stay_inside_slack_limits_and_say_how_many_are_unlisted() -> None:
    stories = [story(n, "Headline " + "word " * 30 + str(n)) for n in range(3000)]
    post = render_more("#frt", ["t"], "Feed", stories, 20)
    blocks = post.message.blocks or []
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(block["text"]["text"]) <= SECTION_TEXT_MAX for block in blocks)
    listed = sum(block["text"]["text"].count("• ") for block in blocks)
    assert 0 < listed < 3000
    assert f"…and {3000 - listed} more not listed." in blocks[-1]["text"]["text"]


def test_the_id_depends_on_channel_and_stories_not_their_order() -> None:
    keys = ["https://a.example/1", "https://a.example/2"]
    assert post_id("more", "#a", keys) == post_id("more", "#a", list(reversed(keys)))
    assert post_id("more", "#a", keys) != post_id("more", "#b", keys)
    assert post_id("more", "#a", keys) != post_id("more", "#a", keys[:1])


def alert(n: int, parent: str | None = None, hours: float = 0, title: str = "") -> Alert:
    published = WHEN + timedelta(hours=hours)
    item = Story(
        f"s{n}", f"https://news.example/s{n}", title or f"Story {n}", "", "Outlet", published
    )
    return Alert(f"a{n}", "frt", "#frt", item, Match("frt", 80.0), parent)


def test_a_digest_groups_later_reports_under_their_event_in_order_of_publication() -> None:
    alerts = [
        alert(1, hours=2),
        alert(2, parent="a1", hours=3),
        alert(3, hours=1),
        alert(4, parent="a1", hours=2.5),
        alert(5, parent="gone", hours=5),  # its event's first report went out earlier
    ]
    (post,) = render_digest("frt", "#frt", alerts, "UTC")
    blocks = post.message.blocks or []
    assert blocks[0]["text"]["text"] == "*Digest: frt* · 5 stories about 3 events"
    texts = [json.dumps(block) for block in blocks[1:]]
    order = [n for text in texts for n in re.findall(r"Story (\d)", text)]
    assert order == ["3", "1", "4", "2", "5"]
    also = blocks[3]["elements"][0]["text"].splitlines()
    assert [line.split("|")[1].split(">")[0] for line in also] == ["Story 4", "Story 2"]
    assert all(line.startswith("Also: <https://news.example/s") for line in also)
    assert post.kind == "digest"
    assert post.message.text == "Digest: frt, 5 stories about 3 events"


def test_nothing_held_is_no_digest() -> None:
    assert render_digest("frt", "#frt", [], "UTC") == []


def test_a_long_digest_is_split_into_messages_within_slack_limits() -> None:
    events = [alert(n, hours=n, title=f"Event {n} " + "word " * 60) for n in range(200)]
    replies = [alert(1000 + n, parent=f"a{n % 7}", hours=300 + n) for n in range(120)]
    posts = render_digest("frt", "#frt", events + replies, "UTC")
    assert 2 <= len(posts) <= 6
    listed: list[str] = []
    for number, post in enumerate(posts, start=1):
        blocks = post.message.blocks or []
        assert len(blocks) <= MAX_BLOCKS
        assert f"(part {number} of {len(posts)})" in blocks[0]["text"]["text"]
        for block in blocks[1:]:
            text = block["text"]["text"] if "text" in block else block["elements"][0]["text"]
            assert len(text) <= SECTION_TEXT_MAX
            listed += re.findall(r"news\.example/s(\d+)\|", text)
    assert sorted(listed, key=int) == [str(a.story.id[1:]) for a in events + replies]
    assert len({post.id for post in posts}) == len(posts)


def test_digest_text_from_feeds_is_escaped() -> None:
    hostile = alert(1, title="<!channel> bans & <https://evil.example|Click>")
    item = Story("s2", "javascript:alert(1)", "<@U1> fines", "<!here> Summary.", "<b>O</b>", WHEN)
    (post,) = render_digest(
        "<topic>", "#frt", [hostile, Alert("a2", "t", "#frt", item, Match("t", 1.0))], "UTC"
    )
    rendered = post.message.text + json.dumps(post.message.blocks)
    for raw in ("<!channel>", "<!here>", "<@U1>", "<https://evil", "<javascript", "<b>", "<topic>"):
        assert raw not in rendered
    assert "&lt;!channel&gt; bans &amp;" in rendered
