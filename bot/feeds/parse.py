"""Parse a feed body into Stories: RSS 0.9x/1.0/2.0 and Atom via feedparser, JSON Feed by hand.

Contract: `parse_feed(body, feed_url=..., content_type=..., source_name=...)` returns a
`ParsedFeed` (feed title and its stories, in feed order, duplicates by id dropped) or raises
`ParseError`:

    empty body                       "empty body"
    an HTML page served as a feed    "not a feed: looks like an HTML page"
    broken XML and no entries        "malformed feed: <feedparser's message>"
    broken JSON / not a JSON Feed    "malformed JSON Feed: ..." / "not a JSON Feed: ..."
    a DOCTYPE that never ends        "malformed feed: unterminated DOCTYPE declaration"

A feed that is broken but still yields entries (a wrong declared charset, undeclared latin-1)
is parsed, and a warning logged. Entries with neither a title nor a link are skipped. Each entry
is converted on its own: one that cannot be read (a lone surrogate such as "\ud800" in its id
or link, which no database or Slack message can hold) is skipped, one warning per feed read
saying how many, and the others go on.

Caps, applied here so matching, clustering and the state never see more: title MAX_TITLE
characters, summary MAX_SUMMARY (longer ones are cut, ending in "..."), id MAX_ID (a longer id is
replaced by its sha256), link MAX_URL (a longer link is dropped), source MAX_SOURCE. Raw text is
cut at RAW_FACTOR times its cap before HTML is converted, so a multi-megabyte title costs no more
than a short one.

Safety: feedparser is only ever handed bytes (a str could make it fetch a URL or read a file).
The DOCTYPE, with its internal subset, is removed before parsing, so no entity declared by the
feed (billion laughs, external entities pointing at local files or URLs) can ever be expanded;
references to such entities then fail as undefined, and feedparser's loose parser keeps them
as literal text.

Each Story is built here, so feedparser's objects never leave this module:
- id: guid / Atom id / JSON Feed id; else the canonical link; else sha256 of title + summary;
- url: `urls.canonical_url` of the entry's link, resolved against the feed URL;
- title, summary: plain text (`html_text.html_to_text` for HTML content);
- source: `source_name`, else the feed's title, else the feed URL's host;
- published: aware UTC from the published date, else the updated date, else None. A date more
  than a day ahead of `now` is a publisher's clock or timezone error: it is clamped to `now`
  (the story is treated as just published) and a warning logged.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import feedparser
import feedparser.api

from bot.errors import ParseError, clip, excerpt
from bot.feeds.html_text import html_to_text
from bot.feeds.urls import canonical_url, redact_url
from bot.models import Story

log = logging.getLogger(__name__)
T = TypeVar("T")

_FUTURE_TOLERANCE = timedelta(days=1)
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")

# feedparser asks xml.sax for "drv_libxml2" (a driver for the long-gone libxml2 Python bindings)
# before expat, for every feed: the failed import searches sys.path again each time, under the
# import lock, about 4% of a posting run's CPU. Expat is what it ends up with anyway.
feedparser.api.PREFERRED_XML_PARSERS[:] = ["xml.sax.expatreader"]
_JSON_FEED_VERSION = "https://jsonfeed.org/version/1"  # 1.1 is ".../version/1.1"
MAX_TITLE = 1_000
MAX_SUMMARY = 10_000
MAX_ID = 200
MAX_URL = 2_048  # what browsers and most servers accept
MAX_SOURCE = 200
RAW_FACTOR = 10  # markup around the text: raw HTML is kept to 10x the text's cap


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    stories: list[Story]


@dataclass(frozen=True, slots=True)
class _Context:
    feed_url: str
    source: str
    now: datetime


def parse_feed(
    body: bytes,
    *,
    feed_url: str,
    content_type: str | None = None,
    source_name: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """The feed's title and stories; raises ParseError when `body` is not a readable feed."""
    if not body.strip():
        raise ParseError(feed_url, "empty body")
    now = now or datetime.now(UTC)
    if _is_json(body, content_type):
        return _parse_json_feed(body, feed_url, source_name, now)
    return _parse_xml_feed(body, feed_url, content_type, source_name, now)


# -- XML: RSS and Atom via feedparser ---------------------------------------------------------


def _parse_xml_feed(
    body: bytes, feed_url: str, content_type: str | None, source_name: str | None, now: datetime
) -> ParsedFeed:
    safe = _safe_charrefs(strip_doctype(_ascii_compatible(body), feed_url))
    # No content-location: feedparser would resolve an absent link or a non-URL guid against it
    # (every link-less entry would get the feed's URL as link and id). Links are resolved here.
    # Without a declared type, application/xml lets the XML declaration name the encoding
    # (RFC 7303 §3.2) instead of flagging the feed.
    headers = {"content-type": content_type or "application/xml"}
    # Titles and summaries are made plain text here (`html_to_text`, which drops script and
    # style content too), so feedparser's own HTML passes, a sanitiser and a relative-URI
    # resolver over every text construct, are work thrown away: a third of a feed's parse.
    result = feedparser.parse(
        io.BytesIO(safe),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    title = _feed_title(
        _detail_text(result.feed.get("title_detail"), result.feed.get("title", ""), MAX_SOURCE)
    )
    context = _Context(feed_url, source_name or title or _host(feed_url), now)
    stories = _each(result.entries, lambda entry: _story_from_entry(entry, context), feed_url)
    if not stories:
        _raise_if_not_a_feed(result, body, feed_url)
    elif result.bozo:
        log.warning(
            "feed is malformed but readable, keeping %d stories: %s",
            len(stories),
            clip(str(result.get("bozo_exception"))),
            extra={"feed_url": redact_url(feed_url)},
        )
    return ParsedFeed(title=title, stories=stories)


def _raise_if_not_a_feed(result: Any, body: bytes, feed_url: str) -> None:
    """Nothing usable came out: say why, unless it is a well-formed feed that is just empty."""
    if not result.version and _looks_like_html(body):
        raise ParseError(feed_url, "not a feed: looks like an HTML page")
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:40]
    if not result.version and not start.startswith(b"<"):
        message = f"not a feed: the body is neither XML nor JSON (starts {excerpt(start)})"
        raise ParseError(feed_url, message)
    if result.bozo:
        raise ParseError(feed_url, f"malformed feed: {result.get('bozo_exception')}")
    if not result.version:
        raise ParseError(feed_url, "not a feed: no RSS, Atom or JSON Feed document found")


def _story_from_entry(entry: dict[str, Any], context: _Context) -> Story | None:
    title = _detail_text(entry.get("title_detail"), entry.get("title", ""), MAX_TITLE)
    link = _url(entry.get("link", ""), context.feed_url)
    if not title and not link:
        return None
    summary = _entry_summary(entry)
    return _story(entry.get("id"), link, title, summary, _entry_date(entry, context), context)


def _entry_summary(entry: Mapping[str, Any]) -> str:
    summary = _detail_text(entry.get("summary_detail"), entry.get("summary", ""), MAX_SUMMARY)
    if summary:
        return summary
    for content in entry.get("content", []):  # Atom entries may carry only <content>
        text = _detail_text(content, content.get("value", ""), MAX_SUMMARY)
        if text:
            return text
    return ""


def _detail_text(detail: Mapping[str, Any] | None, fallback: str, cap: int) -> str:
    """Plain text of a feedparser text construct: HTML converted, plain text tidied."""
    if detail is None:
        return html_to_text(_raw(fallback or "", cap))
    value = _raw(str(detail.get("value") or ""), cap)
    if detail.get("type", "text/html") == "text/plain":
        return _tidy(value)
    return html_to_text(value)


def _entry_date(entry: dict[str, Any], context: _Context) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get: FeedParserDict.get maps updated_parsed to published_parsed with a warning.
        parsed = dict.get(entry, key)
        if parsed:
            return _clamped(_from_struct(parsed), context)
    return None


def _from_struct(parsed: time.struct_time) -> datetime:
    # feedparser normalises every date to UTC as a struct_time.
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def _clamped(when: datetime, context: _Context) -> datetime:
    if when <= context.now + _FUTURE_TOLERANCE:
        return when
    log.warning(
        "entry dated %s is in the future; using the time it was seen",
        when.isoformat(),
        extra={"feed_url": redact_url(context.feed_url)},
    )
    return context.now


# -- JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/) -------------------------------


def _parse_json_feed(
    body: bytes, feed_url: str, source_name: str | None, now: datetime
) -> ParsedFeed:
    try:
        document = json.loads(body)  # RFC 8259 §8.1: UTF-8 (UTF-16/32 detected by json too)
    except (ValueError, RecursionError) as exc:
        raise ParseError(feed_url, f"malformed JSON Feed: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(feed_url, "not a JSON Feed: the top level is not an object")
    if not str(document.get("version", "")).startswith(_JSON_FEED_VERSION):
        raise ParseError(feed_url, f"not a JSON Feed: no {_JSON_FEED_VERSION} 'version'")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(feed_url, "malformed JSON Feed: 'items' is not a list")
    title = _feed_title(_plain(document.get("title"), MAX_SOURCE))
    base = urljoin(feed_url, _plain(document.get("home_page_url")))
    context = _Context(feed_url, source_name or title or _host(feed_url), now)
    objects = [item for item in items if isinstance(item, dict)]
    stories = _each(objects, lambda item: _story_from_item(item, base, context), feed_url)
    return ParsedFeed(title=title, stories=stories)


def _story_from_item(item: dict[str, Any], base: str, context: _Context) -> Story | None:
    # Spec: `title` and `summary` are plain text; `content_html` is HTML.
    title = _plain(item.get("title"), MAX_TITLE)
    link = _url(_plain(item.get("url"), MAX_URL) or _plain(item.get("external_url"), MAX_URL), base)
    if not title and not link:
        return None
    summary = (
        _plain(item.get("summary"), MAX_SUMMARY)
        or _plain(item.get("content_text"), MAX_SUMMARY)
        or html_to_text(_plain(item.get("content_html"), MAX_SUMMARY))
    )
    return _story(item.get("id"), link, title, summary, _item_date(item, context), context)


def _item_date(item: dict[str, Any], context: _Context) -> datetime | None:
    for key in ("date_published", "date_modified"):
        when = _rfc3339(_plain(item.get(key)))
        if when is not None:
            return _clamped(when, context)
    return None


def _rfc3339(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:  # RFC 3339 requires an offset; assume UTC rather than drop it
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _plain(value: object, cap: int = MAX_TITLE) -> str:
    """A JSON string field as tidy text; numbers allowed (JSON Feed 1.0 ids), others ignored."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return _tidy(_raw(str(value), cap))


def _tidy(text: str) -> str:
    """Plain text stays plain: control characters dropped, whitespace collapsed."""
    return " ".join(_CONTROL.sub("", text).split())


# -- shared -----------------------------------------------------------------------------------


def _each(entries: Iterable[T], convert: Callable[[T], Story | None], feed_url: str) -> list[Story]:
    """Each entry converted on its own; one that fails is skipped, the rest go on (unique ids)."""
    seen: set[str] = set()
    kept: list[Story] = []
    skipped: list[str] = []
    for entry in entries:
        try:
            story = convert(entry)
        except Exception as exc:  # any fault in one entry: its feed's other stories still count
            skipped.append(f"{type(exc).__name__}: {exc}")
            continue
        if story is not None and story.id not in seen:
            seen.add(story.id)
            kept.append(story)
    if skipped:
        plural = "s" if len(skipped) > 1 else ""
        log.warning(
            "skipped %d unreadable item%s (first: %s)",
            len(skipped),
            plural,
            clip(skipped[0]),
            extra={"feed_url": redact_url(feed_url)},
        )
    return kept


def _story(
    given_id: object,
    url: str,
    title: str,
    summary: str,
    published: datetime | None,
    context: _Context,
) -> Story:
    """The Story, within the caps, and only if every text in it is storable Unicode."""
    story = Story(
        id=_story_id(given_id, url, title, summary),
        url=url,
        title=_cut(title, MAX_TITLE),
        summary=_cut(summary, MAX_SUMMARY),
        source=_cut(context.source, MAX_SOURCE),
        published=published,
        feed_url=context.feed_url,
    )
    for text in (story.id, story.url, story.title, story.summary, story.source):
        text.encode("utf-8")  # UnicodeEncodeError on a lone surrogate: the entry is skipped
    return story


def _story_id(given: object, url: str, title: str, summary: str) -> str:
    """rss2email's fallback: the feed's own id, else the canonical link, else a content hash.
    An id longer than MAX_ID is replaced by its own hash (stable, and small in the state)."""
    if isinstance(given, str | int) and not isinstance(given, bool) and str(given).strip():
        given = str(given).strip()
        if len(given) <= MAX_ID:
            return given
        return "sha256:" + hashlib.sha256(given.encode()).hexdigest()
    if url:
        return url
    return hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


def _url(link: str, base: str) -> str:
    """The canonical absolute link, or "" when there is none or it is longer than MAX_URL."""
    if not link or len(link) > MAX_URL:
        return ""
    url = canonical_url(urljoin(base, link))
    return url if len(url) <= MAX_URL else ""


def _feed_title(title: str) -> str:
    """The feed's own title, capped, with any lone surrogate replaced: every story carries it."""
    return _cut(title, MAX_SOURCE).encode("utf-8", "replace").decode("utf-8")


def _raw(text: str, cap: int) -> str:
    """Raw feed text cut before any work on it: markup and spaces allowed for, RAW_FACTOR x."""
    return text[: cap * RAW_FACTOR]


def _cut(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[: cap - 1].rstrip() + "\u2026"


def _host(feed_url: str) -> str:
    host = urlsplit(feed_url).hostname or feed_url
    return host.removeprefix("www.")


def _is_json(body: bytes, content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _JSON_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _looks_like_html(body: bytes) -> bool:
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<!doctype html") or b"<html" in head


# -- DOCTYPE removal --------------------------------------------------------------------------

_PROLOG_SKIP = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->", re.DOTALL)
_DTD_TOKEN = re.compile(rb"[\"'\[\]>]|<!--")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_:]")
_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]{1,16}|[0-9]{1,20});")
_XML_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])[^\"']*", re.IGNORECASE)


def strip_doctype(body: bytes, feed_url: str) -> bytes:
    """`body` without its DOCTYPE declaration (internal subset included).

    XML 1.0 §2.8 allows the DOCTYPE only in the prolog, before the root element, so only the
    prolog is searched: a "<!DOCTYPE" inside an entry's CDATA is left alone. An entity
    declaration left in the prolog afterwards (outside any DOCTYPE) is refused.
    """
    start = _prolog_end(body)
    if body[start : start + 9].upper() == b"<!DOCTYPE":
        end = _doctype_end(body, start + 9)
        if end is None:
            raise ParseError(feed_url, "malformed feed: unterminated DOCTYPE declaration")
        log.info("removed the feed's DOCTYPE before parsing", extra={"feed_url": feed_url})
        body = body[:start] + body[end:]
    first = _FIRST_ELEMENT.search(body)
    if _ENTITY_DECL.search(body, 0, first.start() if first else len(body)):
        raise ParseError(feed_url, "malformed feed: entity declaration outside a DOCTYPE")
    return body


def _safe_charrefs(body: bytes) -> bytes:
    """Character references to no character (a lone surrogate such as &#xD800;, past U+10FFFF)
    made U+FFFD: feedparser's loose parser would raise on them and lose the whole feed."""
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_charref_or_replacement, body)


def _charref_or_replacement(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    number = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    if number == 0 or 0xD800 <= number <= 0xDFFF or number > 0x10FFFF:
        return b"&#xFFFD;"
    return match.group()


def _prolog_end(body: bytes) -> int:
    """Offset just past the XML declaration, comments, PIs and whitespace that open `body`."""
    position = 3 if body.startswith(codecs.BOM_UTF8) else 0
    while match := _PROLOG_SKIP.match(body, position):
        position = match.end()
    return position


def _doctype_end(body: bytes, position: int) -> int | None:
    """Offset just past the '>' that closes a DOCTYPE, skipping quoted strings and comments."""
    depth = 0
    while match := _DTD_TOKEN.search(body, position):
        token = match.group()
        if token in (b'"', b"'", b"<!--"):
            closing = b"-->" if token == b"<!--" else token
            close_at = body.find(closing, match.end())
            if close_at < 0:
                return None
            position = close_at + len(closing)
            continue
        position = match.end()
        if token == b"[":
            depth += 1
        elif token == b"]":
            depth -= 1
        elif depth <= 0:  # ">" outside the internal subset
            return position
    return None


def _ascii_compatible(body: bytes) -> bytes:
    """UTF-16/32 bodies transcoded to UTF-8, so the DOCTYPE scan sees ASCII markup."""
    encoding = _wide_encoding(body[:4])
    if encoding is None:
        return body
    text = body.decode(encoding, errors="replace").lstrip("\ufeff")
    return _XML_ENCODING.sub(r"\g<1>utf-8", text, count=1).encode("utf-8")


def _wide_encoding(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return {b"\x00<\x00?": "utf-16-be", b"<\x00?\x00": "utf-16-le"}.get(head)
