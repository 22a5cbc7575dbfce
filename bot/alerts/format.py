"""Turn an Alert into a Slack message (Block Kit + plain `text` fallback), or terminal text. Pure.

Contract:
- Every piece of text that comes from a feed (title, summary, outlet, URL) or from config (topic,
  terms) is cleaned and escaped here, so a headline can never ping (`<!channel>`, `<!here>`,
  `<@U123>`), forge a link (`<https://evil.example|Click>`), hide text (bidi overrides, zero-width
  characters) or break a terminal (control characters).
- The only `<...>` sequences in the output are links this module builds itself, and only for
  http(s) URLs, whose URL part has `<`, `>`, `|`, spaces and control characters percent-encoded
  and `&` written as `&amp;`. Anything else (`javascript:`, `data:`, relative links) is shown as
  plain text, unlinked.
- Every message stays well inside Slack's limits (constants below, with their sources); long text
  is cut on a word with an ellipsis, never in the middle of an `&amp;` entity.

- Text is for people: why a story matched is said in the concepts and the story's own words
  ("facial recognition + ban, in the headline"), never in query syntax or scores; a thread reply
  names the outlet, the headline and the time, never alert ids or similarities (those go to the
  log and `newsbot explain`).
- Times are Slack date tokens (https://api.slack.com/reference/surfaces/formatting#date-formatting)
  that each reader sees in their own time zone, with the time in the team's configured zone
  (`timezone`) as the fallback; terminal text shows that plain local time.

Escaping follows https://api.slack.com/reference/surfaces/formatting#escaping: `&`, `<` and `>`
are the only control characters of mrkdwn and must be sent as `&amp;`, `&lt;`, `&gt;`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.alerts.summarize import ELLIPSIS, end_on_word, summarize
from bot.feeds.urls import is_http_url
from bot.models import Alert, Match, SlackMessage, Story

# Slack's limits. Block Kit: https://api.slack.com/reference/block-kit/blocks
SECTION_TEXT_MAX = 3_000  # section block `text`
HEADER_TEXT_MAX = 150  # header block plain_text (not used for feed text: it cannot hold a link)
CONTEXT_TEXT_MAX = 3_000  # text object inside a context block
MAX_BLOCKS = 50  # blocks per message
# chat.postMessage truncates `text` above 40,000 characters
# (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
MESSAGE_TEXT_MAX = 40_000

# Our own budgets, far inside the limits above, so a message always fits whatever the feed sends.
HEADLINE_MAX = 400  # escaped headline label
URL_MAX = 2_000  # encoded URL; a longer URL is not linked (Slack cuts long link targets)
OUTLET_MAX = 120
SUMMARY_MAX = 1_500
WHY_MAX = 1_200
FALLBACK_URL_MAX = 400
MAX_TERMS_SHOWN = 8

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_NEEDS_ESCAPE = re.compile(r"[&<>]")
# Control characters other than whitespace (whitespace is collapsed below), lone surrogates, and
# the Unicode "format" characters (category Cf): bidi overrides/isolates (U+202A-202E,
# U+2066-2069), zero-width space/joiners/marks (U+200B-200F), word joiner (U+2060), BOM (U+FEFF),
# soft hyphen, tag characters (U+E0000-E007F, "ASCII smuggling"). The Cf list is
# unicodedata's as of Unicode 15, written out so importing this module stays instant.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200c\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f]"
)
_ZWJ = "\u200d"
_LINK = re.compile(r"<(https?://[^<>|\s]+)(?:\|([^<>]*))?>")
_DATE_TOKEN = re.compile(r"<!date\^\d+\^[^<>|]*\|([^<>]*)>")
_PLACES = {"title": "headline", "summary": "summary"}
# Characters left as they are in a link target: RFC 3986 reserved and unreserved characters, and
# `%` so existing escapes survive. Everything else (`<`, `>`, `|`, `"`, spaces, controls,
# non-ASCII) is percent-encoded, so the target cannot end the link early or smuggle a label.
_URL_SAFE = "!#$%&'()*+,-./:;=?@[]~_"


def clean_text(text: str) -> str:
    """`text` without control, bidi or zero-width characters, whitespace collapsed to one space."""
    visible = _INVISIBLE.sub("", text)
    if _ZWJ in visible:
        visible = _keep_emoji_joiners(visible)
    return " ".join(visible.split())


def escape_mrkdwn(text: str) -> str:
    """`text` cleaned (see `clean_text`) and with `&`, `<`, `>` escaped for Slack mrkdwn."""
    return _escape(clean_text(text))


def escape_fit(text: str, limit: int) -> str:
    """`escape_mrkdwn(text)` in at most `limit` characters, cut on a word with an ellipsis."""
    raw_cut = len(text) > 4 * limit + 64  # 1 MB titles: never clean more than we could show
    clean = clean_text(text[: 4 * limit + 64] if raw_cut else text)
    escaped = _escape(clean)
    if len(escaped) <= limit and not raw_cut:
        return escaped
    budget, used, keep = limit - len(ELLIPSIS), 0, 0
    for char in clean:
        used += len(_ESCAPES.get(char, char))
        if used > budget:
            break
        keep += 1
    return _escape(end_on_word(clean[:keep])) if keep else ELLIPSIS[:limit]


def safe_url(url: str, *, max_len: int = URL_MAX) -> str | None:
    """`url` ready to sit inside `<...|label>`, or None when it is not a linkable http(s) URL."""
    if not is_http_url(url):
        return None
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.replace(host, host.encode("idna").decode("ascii"))
        except UnicodeError:
            return None
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))
    encoded = quote(rebuilt, safe=_URL_SAFE).replace("&", "&amp;")
    return encoded if len(encoded) <= max_len else None


def link(url: str, label: str, *, max_len: int = URL_MAX) -> str:
    """An mrkdwn link to `url` labelled with the already-escaped `label`; just `label` if unsafe."""
    target = safe_url(url, max_len=max_len)
    return f"<{target}|{label}>" if target else label


def render_alert(alert: Alert) -> SlackMessage:
    """The top-level Slack message for a new story: headline, outlet and time, summary, why."""
    story = alert.story
    title = escape_fit(story.title, HEADLINE_MAX) or "(untitled)"
    headline = link(story.url, title)
    summary = escape_fit(summarize(story.summary), SUMMARY_MAX)
    blocks = [
        _section(f"*{headline}*"),
        _context(f"*{_outlet(story)}* · {slack_time(story.published, alert.timezone)}"),
        *([_section(summary)] if summary else []),
        _context(why_matched(alert.topic, alert.match)),
    ]
    text = f"{headline} ({_outlet(story)})"
    return SlackMessage(text=text, blocks=blocks)


def render_reply(alert: Alert) -> SlackMessage:
    """A thread reply for another report of an event already alerted on:
    `Also reported by *Outlet*: <link|headline> · time`; a report published before the alert it
    is threaded under says so ("published earlier, at ...")."""
    story = alert.story
    title = escape_fit(story.title, HEADLINE_MAX) or "(untitled)"
    when = slack_time(story.published, alert.timezone)
    if story.published and alert.parent_published and story.published < alert.parent_published:
        when = f"published earlier, at {when}"
    text = f"Also reported by *{_outlet(story)}*: {link(story.url, title)} · {when}"
    return SlackMessage(text=text, blocks=None)


def story_line(story: Story, timezone: str = "UTC") -> str:
    """One story as list text (digests): `<link|headline> · *Outlet* · time`, then on a second
    line its first sentence. Escaped and bounded like every other text of this module."""
    title = escape_fit(story.title, HEADLINE_MAX) or "(untitled)"
    when = slack_time(story.published, timezone)
    line = f"{link(story.url, title)} · *{_outlet(story)}* · {when}"
    summary = escape_fit(summarize(story.summary, max_sentences=1, max_chars=300), 300)
    return f"{line}\n{summary}" if summary else line


def slack_time(published: datetime | None, timezone: str = "UTC") -> str:
    """A Slack date token, which each reader sees in their own zone, e.g.
    `<!date^1714572180^{date_short_pretty} {time}|2024-05-01 16:03 CEST>`; the fallback (shown
    where tokens are not rendered: notifications, old clients) is the time in `timezone`."""
    if published is None:
        return "date unknown"
    aware = published if published.tzinfo else published.replace(tzinfo=UTC)
    epoch = int(aware.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{local_time(aware, timezone)}>"


def local_time(published: datetime | None, timezone: str = "UTC") -> str:
    """`2024-05-01 16:03 CEST`: the time in the team's zone, as plain text."""
    if published is None:
        return "date unknown"
    aware = published if published.tzinfo else published.replace(tzinfo=UTC)
    return _escape(clean_text(aware.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M %Z")))


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The IANA zone `name`; UTC if it is unknown here (names are checked when the config is
    loaded, so this only happens to an alert queued under a zone this host lacks)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def render_fallback(alert: Alert) -> SlackMessage:
    """A short plain message, no blocks: what is sent after msg_too_long or invalid_blocks."""
    story = alert.story
    title = escape_fit(story.title, 200) or "(untitled)"
    headline = link(story.url, title, max_len=FALLBACK_URL_MAX)
    topic = escape_fit(alert.topic, 80)
    text = (
        f"{headline}\n{escape_fit(story.source or 'unknown outlet', 80)} · "
        f"{local_time(story.published, alert.timezone)} · matched {topic}"
    )
    return SlackMessage(text=text, blocks=None)


def render_terminal(alert: Alert) -> str:
    """The alert as plain lines for a terminal (`newsbot run` without a token, or --dry-run)."""
    story = alert.story
    lines = [
        f"[{clean_text(alert.topic)}] {_plain_fit(story.title, 300) or '(untitled)'}",
        f"    {_plain_fit(story.source, OUTLET_MAX) or 'unknown outlet'} · "
        f"{_plain_time(story.published, alert.timezone)}",
        f"    {clean_text(story.url) if safe_url(story.url) else '(no link)'}",
    ]
    summary = summarize(clean_text(story.summary))
    if summary:
        lines.append(f"    {summary}")
    lines.append(f"    why: {_plain_why(alert.match)}")
    lines.append(
        f"    -> {clean_text(alert.channel)}" + (" (thread reply)" if alert.parent_id else "")
    )
    return "\n".join(lines)


def render_plain(message: SlackMessage) -> str:
    """A SlackMessage read back as plain text: links as `label (url)`, entities decoded."""
    pieces = [_block_text(block) for block in message.blocks or []]
    mrkdwn = "\n".join(piece for piece in pieces if piece) or message.text
    unlinked = _LINK.sub(lambda m: f"{m[2]} ({m[1]})" if m[2] else m[1], mrkdwn)
    unlinked = _DATE_TOKEN.sub(lambda m: m[1], unlinked)
    return unlinked.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def why_matched(topic: str, match: Match) -> str:
    """`Why it matched: *topic* · facial recognition + ban, in the headline` (escaped, bounded).

    Said in the concepts of the topic's rule and the story's own words (see `evidence`); the
    terms as the admin wrote them and the score stay in `newsbot explain` and the debug log.
    """
    line = f"Why it matched: *{escape_fit(topic, 200)}*"
    found = "; ".join(
        f"{' + '.join(escape_fit(e, 160) for e in entries)}, in the {place}"
        for place, entries in evidence(match)
    )
    line += f" · {found}" if found else ""
    return line if len(line) <= WHY_MAX else _cut_escaped(line, WHY_MAX)


def evidence(match: Match) -> list[tuple[str, list[str]]]:
    """What was found where, in plain words: `[("headline", ["facial recognition", "ban"])]`.

    Each hit is shown as its concept when the rule names one ("Tech: facial recognition") and
    otherwise as the story's own words, once each (case and spacing aside), in story order, under
    the place it was found: "headline", "summary" or "headline and summary". Plain text; at most
    MAX_TERMS_SHOWN entries, then "N more".
    """
    words: dict[str, dict[str, list[str]]] = {}  # entry -> field -> words seen under it
    for hit in sorted(match.hits, key=lambda h: (h.field != "title", h.start)):
        said = clean_text(hit.text or hit.term).strip('"“”').lower()
        entry = _concept_label(hit.concept) if hit.concept else said
        seen = words.setdefault(entry, {}).setdefault(hit.field, [])
        if said not in seen:
            seen.append(said)
    places: dict[str, list[str]] = {}
    place = ""
    for shown, (entry, fields) in enumerate(words.items()):
        if shown == MAX_TERMS_SHOWN:
            places[place].append(f"{len(words) - shown} more")
            break
        place = " and ".join(_PLACES.get(field, field) for field in fields)
        found = list(dict.fromkeys(word for seen in fields.values() for word in seen))
        places.setdefault(place, []).append(
            f"{entry}: {' / '.join(found)}" if entry not in found else entry
        )
    return list(places.items())


def _concept_label(concept: str) -> str:
    """A concept's name for people: `facial_recognition` -> "Facial recognition"."""
    words = clean_text(re.sub(r"[_\-]+", " ", concept))
    return words[:1].upper() + words[1:]


def _plain_why(match: Match) -> str:
    return (
        "; ".join(f"{' + '.join(entries)}, in the {place}" for place, entries in evidence(match))
        or "(no terms)"
    )


def _cut_escaped(line: str, limit: int) -> str:
    """Cut already-escaped text without splitting an entity such as `&amp;`."""
    head = line[: limit - len(ELLIPSIS)]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + ELLIPSIS


def _plain_fit(text: str, limit: int) -> str:
    clean = clean_text(text[: 4 * limit])
    return clean if len(clean) <= limit else end_on_word(clean[: limit - len(ELLIPSIS)])


def _outlet(story: Story) -> str:
    return escape_fit(story.source, OUTLET_MAX) or "unknown outlet"


def _plain_time(published: datetime | None, timezone: str) -> str:
    return (
        local_time(published, timezone)
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT_MAX]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:CONTEXT_TEXT_MAX]}]}


def _block_text(block: dict[str, Any]) -> str:
    texts = [block.get("text", {}).get("text", "")]
    texts += [element.get("text", "") for element in block.get("elements", [])]
    return " ".join(text for text in texts if text)


def _escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m[0]], text)


def _keep_emoji_joiners(text: str) -> str:
    """Drop each zero-width joiner except between two emoji (👩‍💻 stays one glyph)."""
    kept = []
    for index, char in enumerate(text):
        if char != _ZWJ or (
            0 < index < len(text) - 1 and _is_emoji(text[index - 1]) and _is_emoji(text[index + 1])
        ):
            kept.append(char)
    return "".join(kept)


def _is_emoji(char: str) -> bool:
    return char == "\ufe0f" or unicodedata.category(char) in ("So", "Sk")
