"""format.py: escaping table, link rules, alert layout, replies, fallbacks, terminal text."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.format import (
    HEADLINE_MAX,
    MAX_BLOCKS,
    SECTION_TEXT_MAX,
    SlackMessage,
    escape_fit,
    escape_mrkdwn,
    evidence,
    local_time,
    render_alert,
    render_fallback,
    render_plain,
    render_reply,
    render_terminal,
    safe_url,
    story_line,
    why_matched,
)
from bot.alerts.summarize import summarize
from bot.models import Alert, Match, Story, TermHit

MB = 1024 * 1024


def sample_alert(**story: Any) -> Alert:
    """An alert for a realistic story; keyword arguments replace Story fields."""
    fields: dict[str, Any] = {
        "id": "guid-1",
        "url": "https://news.example/2024/05/city-bans-facial-recognition?id=7&ref=x",
        "title": "City council bans facial recognition for police",
        "summary": (
            "The council voted 7-2 on Tuesday to ban police use of facial recognition. "
            "The ordinance takes effect in June. Civil liberties groups welcomed the vote. "
            "The police union said it would appeal."
        ),
        "source": "Example News",
        "published": datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
        "feed_url": "https://news.example/feed",
    }
    fields.update(story)
    hits = (
        TermHit("facial recognition", "title", "facial recognition", 20, 100.0),
        TermHit("facial recognition", "summary", "facial recognition", 50, 100.0),
        TermHit("moratorium", "summary", "moratoria", 10, 91.0),
    )
    return Alert(
        id="alert-1",
        topic="Facial recognition regulation",
        channel="#privacy",
        story=Story(**fields),
        match=Match("Facial recognition regulation", 87.4, hits),
    )


def all_texts(message: SlackMessage) -> list[str]:
    """Every text field Slack will render, fallback `text` included."""
    texts = [message.text]
    for block in message.blocks or []:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", [])]
    return texts


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("<!channel> alert", "&lt;!channel&gt; alert", id="channel-ping"),
        pytest.param("<!here>", "&lt;!here&gt;", id="here-ping"),
        pytest.param("hi <@U123>", "hi &lt;@U123&gt;", id="user-mention"),
        pytest.param(
            "<https://evil.example|Click>", "&lt;https://evil.example|Click&gt;", id="forged-link"
        ),
        pytest.param("&lt;b&gt; &amp;", "&amp;lt;b&amp;gt; &amp;amp;", id="entity-looking-text"),
        pytest.param("AT&T <3", "AT&amp;T &lt;3", id="ampersand"),
        pytest.param("a\x00b\x07c\x1b[31md\x7f", "abc[31md", id="control-chars"),
        pytest.param("line\nbreak\ttab\r\n end", "line break tab end", id="whitespace-collapsed"),
        pytest.param("evil\u202egnp.exe", "evilgnp.exe", id="bidi-override"),
        pytest.param("\u2066isolate\u2069 \u200fmark", "isolate mark", id="bidi-isolates"),
        pytest.param("zero\u200bwidth\u200c\u2060\ufeff", "zerowidth", id="zero-width"),
        pytest.param("tag\U000e0041\U000e0042s", "tags", id="unicode-tags"),
        pytest.param("soft\u00adhyphen", "softhyphen", id="soft-hyphen"),
        pytest.param("news 🎉🔥 ✅", "news 🎉🔥 ✅", id="emoji"),
        pytest.param("dev 👩\u200d💻", "dev 👩\u200d💻", id="emoji-zwj-sequence-kept"),
        pytest.param(
            "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", id="script-tag"
        ),
        pytest.param("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;", id="html-tag"),
        pytest.param("Ünïcödé 日本語", "Ünïcödé 日本語", id="unicode-text"),
        pytest.param("lone \ud800 surrogate", "lone surrogate", id="lone-surrogate"),
    ],
)
def test_escape_mrkdwn(raw: str, expected: str) -> None:
    assert escape_mrkdwn(raw) == expected


def test_escape_mrkdwn_handles_a_megabyte() -> None:
    escaped = escape_mrkdwn("<!channel> & " * (MB // 13))
    assert "<" not in escaped
    assert ">" not in escaped


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        pytest.param("short & sweet", 50, "short &amp; sweet", id="fits"),
        pytest.param("one two three four five", 14, "one two…", id="cut-on-word"),
        pytest.param("&&&&&&&&", 12, "&amp;&amp;…", id="never-splits-an-entity"),
        pytest.param("x" * 30, 10, "xxxxxxxxx…", id="one-long-word"),
    ],
)
def test_escape_fit(raw: str, limit: int, expected: str) -> None:
    assert escape_fit(raw, limit) == expected
    assert len(expected) <= limit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://a.example/x?y=1&z=2", "https://a.example/x?y=1&amp;z=2", id="amp"),
        pytest.param("HTTP://a.example/", "http://a.example/", id="scheme-case"),
        pytest.param(
            "https://a.example/a b|c<d>",
            "https://a.example/a%20b%7Cc%3Cd%3E",
            id="link-breakers-encoded",
        ),
        pytest.param("https://bücher.example/ä", "https://xn--bcher-kva.example/%C3%A4", id="idn"),
        pytest.param("javascript:alert(1)", None, id="javascript"),
        pytest.param("JavaScript://a.example/%0Aalert(1)", None, id="javascript-host-trick"),
        pytest.param("data:text/html,<script>", None, id="data"),
        pytest.param("ftp://a.example/file", None, id="ftp"),
        pytest.param("/relative/path", None, id="relative"),
        pytest.param("https://", None, id="no-host"),
        pytest.param("http://[::1", None, id="broken-ipv6"),
        pytest.param("", None, id="empty"),
        pytest.param("https://a.example/" + "x" * 5000, None, id="too-long"),
    ],
)
def test_safe_url(url: str, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_render_alert_layout() -> None:
    message = render_alert(sample_alert())
    assert message.blocks is not None
    texts = [t for t in all_texts(message)]
    headline = message.blocks[0]["text"]["text"]
    assert headline == (
        "*<https://news.example/2024/05/city-bans-facial-recognition?id=7&amp;ref=x|"
        "City council bans facial recognition for police>*"
    )
    assert (
        "*Example News* · <!date^1714572180^{date_short_pretty} {time}|2024-05-01 14:03 UTC>"
        in texts
    )
    assert message.blocks[2]["text"]["text"].startswith("The council voted 7-2 on Tuesday")
    why = message.blocks[3]["elements"][0]["text"]
    assert why == (
        "Why it matched: *Facial recognition regulation* · facial recognition, in the headline "
        "and summary; moratoria, in the summary"
    )
    assert "City council bans facial recognition" in message.text


@pytest.mark.parametrize(
    ("story", "check"),
    [
        pytest.param({"published": None}, lambda t: "date unknown" in t, id="no-date"),
        pytest.param(
            {"url": "javascript:alert(1)"},
            lambda t: "javascript" not in t,
            id="javascript-never-linked",
        ),
        pytest.param({"url": ""}, lambda t: "<http" not in t, id="no-url-plain-headline"),
        pytest.param({"source": ""}, lambda t: "unknown outlet" in t, id="no-outlet"),
        pytest.param({"title": ""}, lambda t: "(untitled)" in t, id="no-title"),
        pytest.param(
            {"title": "<!channel> <@U1> & co"},
            lambda t: "&lt;!channel&gt; &lt;@U1&gt; &amp; co" in t,
            id="pings-escaped",
        ),
        pytest.param({"title": "x" * MB}, lambda t: "…" in t, id="megabyte-title-cut"),
        pytest.param({"summary": ""}, lambda t: "Why it matched" in t, id="no-summary"),
    ],
)
def test_render_alert_odd_stories(story: dict[str, Any], check: Any) -> None:
    message = render_alert(sample_alert(**story))
    assert check("\n".join(all_texts(message)))
    assert_within_limits(message)


def test_render_alert_keeps_whole_sentences() -> None:
    summary = "First one. Second one! Third one? Fourth one."
    blocks = render_alert(sample_alert(summary=summary)).blocks
    assert blocks is not None
    assert blocks[2]["text"]["text"] == "First one. Second one! Third one?"


def test_render_reply() -> None:
    alert = sample_alert(source="Other Paper", title="Council & police <clash>")
    reason = "folded into alert a0b1c2: similar at 81 [title 70; needed 58]"
    folded = Alert(**{**_fields(alert), "parent_id": "alert-0", "cluster_reason": reason})
    message = render_reply(folded)
    assert message.blocks is None
    assert message.text.startswith("Also reported by *Other Paper*: <https://news.example/")
    assert message.text.endswith(
        "|Council &amp; police &lt;clash&gt;> · "
        "<!date^1714572180^{date_short_pretty} {time}|2024-05-01 14:03 UTC>"
    )
    for internal in ("alert-0", "a0b1c2", "needed", "similar", "81", "Why grouped"):
        assert internal not in message.text


def test_render_fallback_is_short_plain_text() -> None:
    message = render_fallback(sample_alert(title="t " * 5000, url="https://a.example/" + "p" * 900))
    assert message.blocks is None
    assert len(message.text) < 600
    assert "<" not in message.text  # the URL is too long for a fallback: not linked
    assert message.text.endswith("· 2024-05-01 14:03 UTC · matched Facial recognition regulation")


def test_render_terminal() -> None:
    text = render_terminal(sample_alert(title="Evil\x1b[2J title\u202e"))
    lines = text.splitlines()
    assert lines[0] == "[Facial recognition regulation] Evil[2J title"
    assert lines[1] == "    Example News · 2024-05-01 14:03 UTC"
    assert lines[2].startswith("    https://news.example/2024/05/")
    assert lines[-1] == "    -> #privacy"
    assert "\x1b" not in text


def test_render_plain_reads_a_message_back() -> None:
    plain = render_plain(render_alert(sample_alert(title="A & B")))
    assert plain.startswith("*A & B (https://news.example/2024/05/city-bans-facial-recognition")


def test_summarize_is_what_render_alert_shows() -> None:
    text = "Dr. Smith said the U.S. ban is new. It starts now. More later. Ignored."
    assert summarize(text) == "Dr. Smith said the U.S. ban is new. It starts now. More later."


def assert_within_limits(message: SlackMessage) -> None:
    """Slack's documented limits (see bot/alerts/format.py for the sources)."""
    assert 0 < len(message.text) <= 40_000
    blocks = message.blocks or []
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if "text" in block:
            limit = 150 if block["type"] == "header" else SECTION_TEXT_MAX
            assert len(block["text"]["text"]) <= limit
        for element in block.get("elements", []):
            assert len(element["text"]) <= SECTION_TEXT_MAX
        assert len(block.get("elements", [])) <= 10


def _fields(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in Alert.__slots__}


def test_headline_budget_is_respected() -> None:
    blocks = render_alert(sample_alert(title="&" * 10_000)).blocks
    assert blocks is not None
    label = re.search(r"\|(.*)>\*$", blocks[0]["text"]["text"])
    assert label is not None
    assert len(label[1]) <= HEADLINE_MAX


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        pytest.param("One. Two. Three. Four.", {}, "One. Two. Three.", id="three-sentences"),
        pytest.param("One. Two. Three.", {"max_sentences": 1}, "One.", id="one-sentence"),
        pytest.param("Short one. " + "X" * 50, {"max_chars": 20}, "Short one.", id="whole-only"),
        pytest.param(
            "alpha beta gamma delta epsilon",
            {"max_chars": 16},
            "alpha beta…",
            id="long-first-sentence-cut-on-word",
        ),
        pytest.param(
            "Mr. Lee met Gov. Ruiz in Jan. to talk. Then left.",
            {"max_sentences": 1},
            "Mr. Lee met Gov. Ruiz in Jan. to talk.",
            id="abbreviations",
        ),
        pytest.param(
            "J. R. Smith spoke. Done.", {"max_sentences": 1}, "J. R. Smith spoke.", id="initials"
        ),
        pytest.param(
            "He said “stop.” Then went.",
            {"max_sentences": 1},
            "He said “stop.”",
            id="closing-quote",
        ),
        pytest.param(
            "Version 2.5 is out. Yes.", {"max_sentences": 1}, "Version 2.5 is out.", id="decimal"
        ),
        pytest.param("禁止された。 次の文。", {"max_sentences": 1}, "禁止された。", id="cjk"),
        pytest.param("  spaced\n\nout   text.  ", {}, "spaced out text.", id="whitespace"),
        pytest.param(
            "Ban passed. The post Ban appeared first on Example News.",
            {},
            "Ban passed.",
            id="wordpress-boilerplate",
        ),
        pytest.param("Ban passed. Continue reading...", {}, "Ban passed.", id="continue-reading"),
        pytest.param("Ban passed [...]", {}, "Ban passed…", id="trailing-ellipsis-marker"),
        pytest.param("", {}, "", id="empty"),
    ],
)
def test_summarize(text: str, kwargs: dict[str, Any], expected: str) -> None:
    assert summarize(text, **kwargs) == expected


def test_times_are_date_tokens_with_the_team_zone_as_fallback() -> None:
    alert = replace(sample_alert(), timezone="Europe/Berlin")
    context = render_alert(alert).blocks[1]["elements"][0]["text"]  # type: ignore[index]
    assert context == (
        "*Example News* · <!date^1714572180^{date_short_pretty} {time}|2024-05-01 16:03 CEST>"
    )
    assert "2024-05-01 16:03 CEST" in render_terminal(alert)
    assert "*Example News* · 2024-05-01 16:03 CEST" in render_plain(render_alert(alert))
    assert "<!date" not in render_plain(render_alert(alert))


@pytest.mark.parametrize(
    ("published", "parent_published", "expected_when"),
    [
        pytest.param(
            datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
            "published earlier, at <!date^1714554000^{date_short_pretty} {time}|2024-05-01 "
            "09:00 UTC>",
            id="earlier-report-arriving-late",
        ),
        pytest.param(
            datetime(2024, 5, 1, 18, 0, tzinfo=UTC),
            datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
            "<!date^1714586400^{date_short_pretty} {time}|2024-05-01 18:00 UTC>",
            id="later-report",
        ),
        pytest.param(None, datetime(2024, 5, 1, 14, 3, tzinfo=UTC), "date unknown", id="undated"),
    ],
)
def test_reply_says_when_a_report_was_published_before_its_alert(
    published: datetime | None, parent_published: datetime, expected_when: str
) -> None:
    alert = sample_alert(published=published)
    reply = replace(alert, parent_id="alert-0", parent_published=parent_published)
    assert render_reply(reply).text.endswith(f"> · {expected_when}")


@pytest.mark.parametrize(
    ("hits", "expected"),
    [
        pytest.param(
            (
                TermHit("ban", "title", "bans", 12, 100.0),
                TermHit('"facial recognition"', "title", "facial-recognition", 17, 100.0),
            ),
            [("headline", ["bans", "facial-recognition"])],
            id="story-words-not-query-syntax",
        ),
        pytest.param(
            (
                TermHit("regulat*", "title", "regulator", 0, 100.0),
                TermHit("regulator*", "title", "regulator", 0, 100.0),
                TermHit("rekognition~0", "summary", "Rekognition", 40, 100.0),
            ),
            [("headline", ["regulator"]), ("summary", ["rekognition"])],
            id="one-word-found-by-two-terms-once",
        ),
        pytest.param(
            (
                TermHit('"face scan*"', "summary", "face scans", 30, 100.0, "tech"),
                TermHit('"facial recognition"', "title", "facial recognition", 5, 100.0, "tech"),
                TermHit("ban", "title", "ban", 30, 100.0, "policy_action"),
            ),
            [
                ("headline and summary", ["Tech: facial recognition / face scans"]),
                ("headline", ["Policy action: ban"]),
            ],
            id="concepts-named-with-their-words",
        ),
        pytest.param((), [], id="no-hits"),
    ],
)
def test_evidence(hits: tuple[TermHit, ...], expected: list[tuple[str, list[str]]]) -> None:
    assert evidence(Match("t", 80.0, hits)) == expected


def test_why_matched_never_shows_syntax_or_scores() -> None:
    hits = (
        TermHit("regulat*", "title", "regulator", 0, 100.0),
        TermHit("regulator*", "title", "regulator", 0, 100.0),
        TermHit("rekognition~0", "title", "rekognition", 20, 100.0),
        TermHit('"facial recognition" NEAR/5 ban', "summary", "facial recognition", 3, 91.0),
    )
    why = why_matched("frt", Match("frt", 100.0, hits))
    assert why == (
        "Why it matched: *frt* · regulator + rekognition, in the headline; "
        "facial recognition, in the summary"
    )
    for syntax in ("*", "~", '"', "NEAR", "score", "100"):
        assert syntax not in why.removeprefix("Why it matched: *frt*")


def test_story_line_for_lists() -> None:
    story = sample_alert(
        summary="Photo: Getty Images The council voted 7-2. The ordinance starts in June."
    ).story
    assert story_line(story, "America/New_York") == (
        "<https://news.example/2024/05/city-bans-facial-recognition?id=7&amp;ref=x|City council "
        "bans facial recognition for police> · *Example News* · "
        "<!date^1714572180^{date_short_pretty} {time}|2024-05-01 10:03 EDT>\n"
        "The council voted 7-2."
    )


def test_unknown_zone_falls_back_to_utc() -> None:
    assert local_time(datetime(2024, 5, 1, 14, 3, tzinfo=UTC), "Mars/Olympus") == (
        "2024-05-01 14:03 UTC"
    )
