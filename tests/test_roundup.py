"""The "and N more" list (bot/roundup.py): escaped, linked, inside Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.format import MAX_BLOCKS, SECTION_TEXT_MAX
from bot.models import Story
from bot.roundup import post_id, render_more

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
        "• <https://news.example/s1|Council bans facial recognition (story 1)> · Outlet · " in text
    )
    assert "2026-11-28 09:30 UTC" in text
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
