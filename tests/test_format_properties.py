"""Properties of format.py for arbitrary feed text (hypothesis).

1. No `<`, `>` or `&` from feed text survives unescaped in any text field: the only `<...>` are
   links format.py built, with an http(s) target free of `<`, `>`, `|` and spaces.
2. Every message stays within Slack's limits.
3. Escaping never changes what a reader sees: unescaping gives back the cleaned text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.format import (
    SlackMessage,
    clean_text,
    escape_fit,
    escape_mrkdwn,
    render_alert,
    render_fallback,
    render_reply,
)
from bot.alerts.summarize import split_sentences, summarize
from bot.models import Alert, Match, Story, TermHit
from tests.test_format import all_texts, assert_within_limits

# Our own links: an http(s) target with no space, `<`, `>` or `|`, then an optional label.
_OWN_LINK = re.compile(
    r"<https?://[^\s<>|]+(?:\|[^<>]*)?>"
    r"|<!date\^-?\d+\^\{date_short_pretty\} \{time\}\|[0-9: -]+[A-Za-z0-9+-]+>"  # our date tokens
)
_ENTITY = re.compile(r"&(?:amp|lt|gt);")

# Text that leans on the dangerous characters, plus anything at all.
_HOSTILE = st.sampled_from(
    [
        "<",
        ">",
        "&",
        "|",
        "<!channel>",
        "<!here>",
        "<@U123>",
        "<https://evil.example|Click>",
        "&lt;",
        "&amp;",
        "\u202e",
        "\u200b",
        "\x00",
        "\x1b",
        "\n",
        "javascript:",
        "*",
        "🎉",
        " ",
    ]
)
feed_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_HOSTILE, st.text(max_size=5)), max_size=60).map("".join),
)
urls = st.one_of(
    feed_text,
    st.builds(lambda path: f"https://news.example/{path}", feed_text),
    st.sampled_from(["javascript:alert(1)", "data:text/html,x", "http://a.example/?a=1&b=<2>"]),
)


@st.composite
def alerts(draw: st.DrawFn) -> Alert:
    story = Story(
        id=draw(feed_text),
        url=draw(urls),
        title=draw(st.one_of(feed_text, st.text(min_size=3000, max_size=6000))),
        summary=draw(feed_text),
        source=draw(feed_text),
        published=draw(st.none() | st.datetimes(timezones=st.just(UTC))),
    )
    hits = draw(
        st.lists(
            st.builds(
                TermHit,
                feed_text,
                st.sampled_from(["title", "summary"]),
                feed_text,
                st.integers(0, 100),
                st.floats(0, 100),
            ),
            max_size=15,
        )
    )
    match = Match(draw(feed_text), draw(st.floats(0, 100)), tuple(hits))
    return Alert("a1", draw(feed_text), "#c", story, match, cluster_reason=draw(feed_text))


def assert_no_unescaped_markup(message: SlackMessage) -> None:
    for text in all_texts(message):
        rest = _OWN_LINK.sub("", text)
        assert "<" not in rest, text
        assert ">" not in rest, text
        assert not _ENTITY.sub("", rest).count("&"), text
        for target in re.findall(r"<(https?://[^|>]*)", text):
            assert not set(target) & set("<>| "), target


_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(alerts())
def test_render_alert_never_lets_markup_through(alert: Alert) -> None:
    message = render_alert(alert)
    assert_no_unescaped_markup(message)
    assert_within_limits(message)


@_SETTINGS
@given(alerts())
def test_render_reply_never_lets_markup_through(alert: Alert) -> None:
    message = render_reply(alert)
    assert_no_unescaped_markup(message)
    assert_within_limits(message)
    assert len(message.text) <= 4_000


@_SETTINGS
@given(alerts())
def test_render_fallback_never_lets_markup_through(alert: Alert) -> None:
    message = render_fallback(alert)
    assert message.blocks is None
    assert_no_unescaped_markup(message)
    assert len(message.text) <= 1_000


@given(feed_text)
def test_escape_round_trips_to_the_cleaned_text(text: str) -> None:
    escaped = escape_mrkdwn(text)
    unescaped = escaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert unescaped == clean_text(text)


@given(feed_text, st.integers(min_value=1, max_value=400))
def test_escape_fit_respects_its_limit(text: str, limit: int) -> None:
    fitted = escape_fit(text, limit)
    assert len(fitted) <= limit
    assert not _ENTITY.sub("", fitted).count("&")
    assert "<" not in fitted
    assert ">" not in fitted


@given(st.datetimes(timezones=st.just(UTC)) | st.none())
def test_any_date_renders(published: datetime | None) -> None:
    alert = render_alert(
        Alert("a", "t", "#c", Story("i", "", "x", "", "s", published), Match("t", 50.0))
    )
    assert_within_limits(alert)


@given(feed_text, st.integers(1, 5), st.integers(1, 600))
def test_summarize_bounds(text: str, max_sentences: int, max_chars: int) -> None:
    summary = summarize(text, max_sentences=max_sentences, max_chars=max_chars)
    assert len(summary) <= max_chars
    assert len(split_sentences(summary)) <= max_sentences or summary.endswith("…")
