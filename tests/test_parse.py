"""bot.feeds.parse and bot.feeds.html_text: sample feeds, JSON Feed, hostile and broken bodies."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ParseError
from bot.feeds.html_text import html_to_text
from bot.feeds.parse import ParsedFeed, parse_feed
from bot.models import Story

FEEDS = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example/feed"


def parse(body: bytes, content_type: str | None = None, **kwargs: Any) -> ParsedFeed:
    return parse_feed(body, feed_url=FEED_URL, content_type=content_type, now=NOW, **kwargs)


def parse_file(name: str, content_type: str | None = None) -> ParsedFeed:
    return parse((FEEDS / name).read_bytes(), content_type)


def by_title(feed: ParsedFeed, start: str) -> Story:
    return next(story for story in feed.stories if story.title.startswith(start))


# -- the sample feeds -------------------------------------------------------------------------

SAMPLES = [
    # name, file, content type, feed title, story count, first story (id, url, title)
    (
        "rss 2.0",
        "rss20.xml",
        "application/rss+xml",
        "Civic Wire",
        5,
        (
            "civicwire-2026-1014-001",
            "https://civicwire.example/2026/10/14/port-alder-bans-police-facial-recognition",
            "Port Alder city council votes to ban police use of facial recognition",
        ),
    ),
    (
        "atom 1.0",
        "atom.xml",
        "application/atom+xml",
        "Tech Policy Daily",
        4,
        (
            "tag:techpolicydaily.example,2026:news/4411",
            "https://techpolicydaily.example/news/faceseek-fined",
            "Privacy regulator fines face-search company FaceSeek €18 million",
        ),
    ),
    (
        "rss 1.0 rdf",
        "rss10.rdf",
        "application/rdf+xml",
        "The Circuit",
        3,
        (
            "https://thecircuit.example/articles/schools-face-recognition-moratorium",
            "https://thecircuit.example/articles/schools-face-recognition-moratorium",
            "State senate passes moratorium on facial recognition in schools",
        ),
    ),
    (
        "rss 0.91 with netscape doctype",
        "rss091.xml",
        None,
        "Old School Gazette",
        1,
        (
            "https://oldschool.example/news/district-ends-camera-trial",
            "https://oldschool.example/news/district-ends-camera-trial",
            "School district ends trial of face recognition cameras",
        ),
    ),
    (
        "json feed 1.1",
        "jsonfeed11.json",
        "application/feed+json",
        "Rights & Tech Bulletin",
        3,
        (
            "https://rightstech.example/2026/10/transit-agency-drops-face-recognition",
            "https://rightstech.example/2026/10/transit-agency-drops-face-recognition",
            "Transit agency drops face recognition plan after public outcry",
        ),
    ),
    (
        "json feed 1.0 sniffed without content type",
        "jsonfeed10.json",
        None,
        "Policy Notes",
        2,
        (
            "1042",
            "https://policynotes.example/1042",
            "City auditor questions police drone and face recognition contracts",
        ),
    ),
    (
        "google alerts",
        "google-alerts.xml",
        "application/atom+xml",
        "Google Alert - facial recognition ban",
        2,
        (
            "tag:google.com,2013:googlealerts/feed:1111111111111111111",
            "https://harborcity-herald.example/news/2026/10/15/facial-recognition-ban",
            "Harbor City weighs facial recognition ban for police",
        ),
    ),
    (
        "declared iso-8859-1",
        "iso-8859-1.xml",
        "application/rss+xml",
        "Grenzland Nachrichten",
        2,
        (
            "grenzland-7781",
            "https://grenzland.example/artikel/gesichtserkennung-bahnhof",
            "Datenschutzbehörde prüft Gesichtserkennung am Bahnhof",
        ),
    ),
    (
        "undeclared latin-1 bytes",
        "undeclared-latin1.xml",
        "application/rss+xml",
        "Grenzland ohne Deklaration",
        2,
        (
            "grenzland-7781",
            "https://grenzland.example/artikel/gesichtserkennung-bahnhof",
            "Datenschutzbehörde prüft Gesichtserkennung am Bahnhof",
        ),
    ),
    (
        "latin-1 served with a wrong charset",
        "iso-8859-1.xml",
        "application/rss+xml; charset=utf-8",
        "Grenzland Nachrichten",
        2,
        (
            "grenzland-7781",
            "https://grenzland.example/artikel/gesichtserkennung-bahnhof",
            "Datenschutzbehörde prüft Gesichtserkennung am Bahnhof",
        ),
    ),
]


@pytest.mark.parametrize(
    ("file", "content_type", "title", "count", "first"),
    [case[1:] for case in SAMPLES],
    ids=[case[0] for case in SAMPLES],
)
def test_sample_feed(
    file: str, content_type: str | None, title: str, count: int, first: tuple[str, str, str]
) -> None:
    feed = parse_file(file, content_type)
    assert feed.title == title
    assert len(feed.stories) == count
    story = feed.stories[0]
    assert (story.id, story.url, story.title) == first
    assert story.source == title
    assert story.feed_url == FEED_URL


@pytest.mark.parametrize("file", sorted(p.name for p in FEEDS.iterdir()))
def test_every_sample_gives_clean_stories(file: str) -> None:
    for story in parse_file(file).stories:
        assert story.title or story.url
        assert "<" not in story.summary.replace("<script>", "")  # html-titles keeps a literal one
        assert story.published is None or story.published.utcoffset() == timedelta(0)
        assert story.url == "" or story.url.startswith(("http://", "https://"))


def test_rss_dates_are_converted_to_utc() -> None:
    story = parse_file("rss20.xml").stories[0]  # Wed, 14 Oct 2026 18:30:00 -0700
    assert story.published == datetime(2026, 10, 15, 1, 30, tzinfo=UTC)


def test_atom_uses_published_then_updated() -> None:
    feed = parse_file("atom.xml")
    fined = by_title(feed, "Privacy regulator")  # published 06:30+02:00, updated 07:00+02:00
    assert fined.published == datetime(2026, 10, 15, 4, 30, tzinfo=UTC)
    bill = by_title(feed, "Lawmakers propose")  # only <updated>
    assert bill.published == datetime(2026, 10, 14, 15, 20, tzinfo=UTC)


def test_atom_xhtml_content_and_relative_link() -> None:
    feed = parse_file("atom.xml")
    bill = by_title(feed, "Lawmakers propose")
    assert bill.summary.startswith("A bipartisan bill would require a warrant")
    chip = by_title(feed, "Calder")
    assert chip.url == "https://feeds.example/news/calder-2nm-laptop-chip"


def test_same_story_in_two_feeds_has_one_canonical_url() -> None:
    rss = parse_file("rss20.xml").stories[0]
    atom = by_title(parse_file("atom.xml"), "Port Alder becomes")
    assert rss.url == atom.url
    assert rss.key == atom.key


def test_missing_guid_and_date() -> None:
    feed = parse_file("missing-guid-date.xml")
    assert [s.title for s in feed.stories] == [
        "Library board asks city to review camera and face recognition use",
        "Farmers market moves indoors for the season",
        "Permalink guid, no link element",
    ]
    library, market, permalink = feed.stories
    assert library.id == library.url == "https://neighborhoodnotes.example/library-cameras"
    assert library.published is None
    assert market.url == ""
    assert len(market.id) == 64  # sha256 of title and summary
    assert permalink.url == "https://neighborhoodnotes.example/permalink-guid"
    assert permalink.published is None  # "not a date at all"


def test_content_hash_id_is_stable() -> None:
    first = parse_file("missing-guid-date.xml").stories[1].id
    assert parse_file("missing-guid-date.xml").stories[1].id == first


HTML_TITLES = [
    (
        "escaped tags",
        0,
        "Breaking: Council bans police facial recognition",
        "Lawmakers\u2019 vote was 7\u20132.",
    ),
    (
        "cdata tags and spaces",
        1,
        "Q&A: What the face recognition ban means for you",
        "Tom & Jerry\u2019s guide \u2014 plain text with entities.",
    ),
    (
        "escaped script stays text",
        2,
        "AT&T and the <script>alert(1)</script> headline",
        "A hostile link is dropped; the story keeps its title.",
    ),
]


@pytest.mark.parametrize(
    ("index", "title", "summary"), [c[1:] for c in HTML_TITLES], ids=[c[0] for c in HTML_TITLES]
)
def test_html_in_titles(index: int, title: str, summary: str) -> None:
    story = parse_file("html-titles.xml").stories[index]
    assert story.title == title
    assert story.summary == summary


def test_javascript_link_is_dropped() -> None:
    story = parse_file("html-titles.xml").stories[2]
    assert story.url == ""
    assert story.id == "metrotech-a-3"


def test_encodings_decode_to_the_same_text() -> None:
    declared = parse_file("iso-8859-1.xml").stories
    undeclared = parse_file("undeclared-latin1.xml").stories
    assert [s.summary for s in declared] == [s.summary for s in undeclared]
    assert "Café-Betreiber äußern Bedenken" in declared[0].summary


def test_utf16_feed() -> None:
    text = (FEEDS / "rss20.xml").read_text("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    feed = parse(text.encode("utf-16"))
    assert feed.title == "Civic Wire"
    assert len(feed.stories) == 5


# -- JSON Feed --------------------------------------------------------------------------------


def json_feed(
    items: list[dict[str, Any]], version: str = "https://jsonfeed.org/version/1.1"
) -> bytes:
    return json.dumps({"version": version, "title": "J", "items": items}).encode()


JSON_ITEMS = [
    # name, item, expected (id, url, title, summary, published)
    (
        "summary preferred",
        {
            "id": "a",
            "url": "https://j.example/a",
            "title": "T",
            "summary": "S",
            "content_text": "C",
        },
        ("a", "https://j.example/a", "T", "S", None),
    ),
    (
        "content_text when no summary",
        {"id": "b", "url": "https://j.example/b", "title": "T", "content_text": "C  text"},
        ("b", "https://j.example/b", "T", "C text", None),
    ),
    (
        "content_html converted",
        {"id": "c", "title": "T", "content_html": "<p>Hi &amp; <b>bye</b></p><style>x</style>"},
        ("c", "", "T", "Hi & bye", None),
    ),
    (
        "numeric id (1.0 feeds)",
        {"id": 17, "url": "https://j.example/17", "title": "T"},
        ("17", "https://j.example/17", "T", "", None),
    ),
    (
        "no id: canonical url",
        {"url": "https://J.example/x?utm_source=j", "title": "T"},
        ("https://j.example/x", "https://j.example/x", "T", "", None),
    ),
    (
        "external_url when no url",
        {"id": "e", "external_url": "https://other.example/e", "title": "T"},
        ("e", "https://other.example/e", "T", "", None),
    ),
    (
        "relative url resolved",
        {"id": "r", "url": "/r", "title": "T"},
        ("r", "https://feeds.example/r", "T", "", None),
    ),
    (
        "date_published with offset",
        {"id": "d", "title": "T", "date_published": "2026-10-15T10:00:00-04:00"},
        ("d", "", "T", "", datetime(2026, 10, 15, 14, 0, tzinfo=UTC)),
    ),
    (
        "date_modified when no date_published",
        {"id": "m", "title": "T", "date_modified": "2026-10-14T09:00:00Z"},
        ("m", "", "T", "", datetime(2026, 10, 14, 9, 0, tzinfo=UTC)),
    ),
    (
        "bad date tolerated",
        {"id": "x", "title": "T", "date_published": "yesterday"},
        ("x", "", "T", "", None),
    ),
    (
        "title plain text kept literally",
        {"id": "p", "title": "Why 3 <b> 4", "url": "https://j.example/p"},
        ("p", "https://j.example/p", "Why 3 <b> 4", "", None),
    ),
]


@pytest.mark.parametrize(
    ("item", "expected"), [c[1:] for c in JSON_ITEMS], ids=[c[0] for c in JSON_ITEMS]
)
def test_json_feed_item(item: dict[str, Any], expected: tuple[Any, ...]) -> None:
    (story,) = parse(json_feed([item]), "application/feed+json").stories
    assert (story.id, story.url, story.title, story.summary, story.published) == expected


@pytest.mark.parametrize(
    "version", ["https://jsonfeed.org/version/1", "https://jsonfeed.org/version/1.1"]
)
def test_json_feed_versions(version: str) -> None:
    feed = parse(json_feed([{"id": "1", "title": "T"}], version), "application/json")
    assert feed.title == "J"
    assert [s.id for s in feed.stories] == ["1"]


def test_json_feed_skips_items_without_title_and_link() -> None:
    items: list[Any] = [
        {"id": "1", "content_text": "no title, no url"},
        "not an object",
        {"id": "2", "title": "T"},
    ]
    assert [s.id for s in parse(json_feed(items)).stories] == ["2"]


JSON_ERRORS = [
    ("broken json", b'{"version": ', "malformed JSON Feed"),
    ("json array", b"[1, 2]", "not a JSON Feed: the top level is not an object"),
    ("no version", b'{"items": []}', "not a JSON Feed"),
    (
        "items not a list",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
        "'items'",
    ),
    ("deep nesting", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "malformed JSON Feed"),
]


@pytest.mark.parametrize(
    ("body", "message"), [c[1:] for c in JSON_ERRORS], ids=[c[0] for c in JSON_ERRORS]
)
def test_json_feed_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(body, "application/feed+json")


# -- sources and dates ------------------------------------------------------------------------


def test_source_name_overrides_feed_title() -> None:
    feed = parse((FEEDS / "rss20.xml").read_bytes(), source_name="CW")
    assert {s.source for s in feed.stories} == {"CW"}


def test_source_falls_back_to_host() -> None:
    body = b'<rss version="2.0"><channel><item><title>T</title></item></channel></rss>'
    feed = parse_feed(body, feed_url="https://www.outlet.example/rss", now=NOW)
    assert feed.stories[0].source == "outlet.example"


def rss_item_dated(pub_date: str) -> bytes:
    return (
        '<rss version="2.0"><channel><title>D</title><item><title>T</title>'
        f"<link>https://d.example/1</link><pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()


DATES = [
    ("past date kept", "Mon, 19 Oct 2026 12:00:00 GMT", datetime(2026, 10, 19, 12, tzinfo=UTC)),
    (
        "a few hours ahead kept",
        "Tue, 20 Oct 2026 20:00:00 GMT",
        datetime(2026, 10, 20, 20, tzinfo=UTC),
    ),
    ("far future clamped to now", "Fri, 01 Jan 2027 00:00:00 GMT", NOW),
    ("garbage tolerated", "someday", None),
]


@pytest.mark.parametrize(
    ("pub_date", "expected"), [c[1:] for c in DATES], ids=[c[0] for c in DATES]
)
def test_published_dates(pub_date: str, expected: datetime | None) -> None:
    assert parse(rss_item_dated(pub_date)).stories[0].published == expected


def test_duplicate_ids_kept_once() -> None:
    item = "<item><guid>same</guid><title>T</title></item>"
    body = f'<rss version="2.0"><channel><title>D</title>{item}{item}</channel></rss>'.encode()
    assert len(parse(body).stories) == 1


def test_valid_feed_without_items_is_empty_not_an_error() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse(body) == ParsedFeed(title="Quiet", stories=[])


# -- not feeds --------------------------------------------------------------------------------

LOGIN_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Sign in</title><script>var x = 1;</script></head>
<body><form action="/login" method="post"><input name="user"><input type="password"></form></body>
</html>"""

NOT_FEEDS = [
    ("empty body", b"", None, "empty body"),
    ("whitespace only", b" \r\n\t ", None, "empty body"),
    (
        "html login page",
        LOGIN_PAGE,
        "text/html; charset=utf-8",
        "not a feed: looks like an HTML page",
    ),
    (
        "html page sent as rss",
        LOGIN_PAGE,
        "application/rss+xml",
        "not a feed: looks like an HTML page",
    ),
    ("html without doctype", b"<html><body>Moved</body></html>", None, "looks like an HTML page"),
    (
        "malformed xml",
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</titel></channel></rss>',
        None,
        r"malformed feed: .*mismatched tag",
    ),
    (
        "truncated feed",
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</title><item><title>cut',
        None,
        "malformed feed: ",
    ),
    (
        "xml but not a feed",
        b'<?xml version="1.0"?><config><a/></config>',
        None,
        "not a feed: no RSS",
    ),
    ("plain text", b"Service temporarily unavailable", "text/plain", "not a feed"),
    (
        "unterminated doctype",
        b'<?xml version="1.0"?><!DOCTYPE rss [ <!ENTITY a "b"> <rss>',
        None,
        "DOCTYPE",
    ),
    (
        "entity declaration outside doctype",
        b'<?xml version="1.0"?><!ENTITY a "b"><rss version="2.0"></rss>',
        None,
        "entity declaration",
    ),
    ("a url is not fetched", b"http://127.0.0.1:9/feed.xml", None, "not a feed"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "message"), [c[1:] for c in NOT_FEEDS], ids=[c[0] for c in NOT_FEEDS]
)
def test_not_a_feed(body: bytes, content_type: str | None, message: str) -> None:
    with pytest.raises(ParseError, match=message) as caught:
        parse(body, content_type)
    assert caught.value.feed_url == FEED_URL
    assert str(caught.value).startswith(f"parse {FEED_URL}: ")


def test_a_file_path_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_bytes((FEEDS / "rss20.xml").read_bytes())
    with pytest.raises(ParseError, match="not a feed"):
        parse(str(tmp_path / "feed.xml").encode())


# -- hostile XML ------------------------------------------------------------------------------


def billion_laughs() -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    subset = "\n  ".join(lines)
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n  {subset}\n]>\n'
        '<rss version="2.0"><channel><title>Laughs &lol9;</title>'
        "<item><title>Entry &lol9; end</title><link>https://evil.example/1</link>"
        "<description>&lol9;</description></item></channel></rss>"
    ).encode()


def test_billion_laughs_is_not_expanded() -> None:
    started = time.monotonic()
    feed = parse(billion_laughs())
    assert time.monotonic() - started < 2
    (story,) = feed.stories
    assert "lollol" not in story.title + story.summary + feed.title
    assert len(story.title) < 100
    assert story.url == "https://evil.example/1"


XXE = [
    ("system entity", '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}">]>', "&xxe;"),
    (
        "parameter entity",
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{path}"> %p; <!ENTITY xxe "x">]>',
        "&xxe;",
    ),
    ("external dtd", '<!DOCTYPE rss SYSTEM "file://{path}">', "&secret;"),
    (
        "tricky subset with quotes and comments",
        "<!DOCTYPE rss [<!-- ] > --><!ENTITY q \"]>'\"><!ENTITY xxe SYSTEM 'file://{path}'>]>",
        "&xxe;",
    ),
]


@pytest.mark.parametrize(("doctype", "ref"), [c[1:] for c in XXE], ids=[c[0] for c in XXE])
def test_external_entities_are_never_resolved(tmp_path: Path, doctype: str, ref: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a")
    body = (
        f'<?xml version="1.0"?>\n{doctype.format(path=secret)}\n'
        f'<rss version="2.0"><channel><title>X {ref}</title>'
        f"<item><title>Leak {ref} here</title><link>https://evil.example/x</link>"
        f"<description>{ref}</description></item></channel></rss>"
    ).encode()
    feed = parse(body)
    text = feed.title + "".join(s.title + s.summary + s.url for s in feed.stories)
    assert "TOP-SECRET" not in text
    assert [s.url for s in feed.stories] == ["https://evil.example/x"]


def test_doctype_text_inside_content_is_left_alone() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><item><title>T</title>'
        b"<description><![CDATA[<!DOCTYPE html> example markup]]></description></item>"
        b"</channel></rss>"
    )
    assert parse(body).stories[0].summary == "example markup"


# -- html_text --------------------------------------------------------------------------------

HTML_TEXT = [
    ("plain text unchanged", "Council bans face recognition", "Council bans face recognition"),
    ("tags stripped", "<p>Council <b>bans</b> it</p>", "Council bans it"),
    ("entities decoded", "AT&amp;T &lt;3 caf&eacute; &#8217;", "AT&T <3 caf\u00e9 \u2019"),
    ("script content dropped", "a<script>alert('x')</script>b", "ab"),
    ("style content dropped", "<style>p { color: red }</style>text", "text"),
    ("nested drops", "<noscript><iframe>x</iframe>y</noscript>z", "z"),
    (
        "blocks separate words",
        "<p>one</p><p>two</p>three<br>four<li>five",
        "one two three four five",
    ),
    ("self-closed br", "one<br/>two", "one two"),
    ("whitespace collapsed", "  a \n\t b\u00a0 c  ", "a b c"),
    ("control characters removed", "a\x00b\x07c\x1bd", "abcd"),
    ("unterminated script drops the rest", "keep<script>drop", "keep"),
    ("lone less-than kept", "3 < 4 and 5 > 2", "3 < 4 and 5 > 2"),
    ("comments dropped", "a<!-- hidden -->b", "ab"),
    ("escaped markup stays text", "&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(
    ("fragment", "expected"), [c[1:] for c in HTML_TEXT], ids=[c[0] for c in HTML_TEXT]
)
def test_html_to_text(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


def test_feeds_are_parsed_by_expat_without_looking_for_other_xml_drivers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """feedparser's default asks xml.sax for a libxml2 driver first, and that failed import
    searched sys.path again for every feed (issue 13): the parser is expat, found at once."""
    import sys
    from importlib.abc import MetaPathFinder

    asked: list[str] = []

    class Recorder(MetaPathFinder):
        def find_spec(self, name: str, path: object, target: object = None) -> None:
            asked.append(name)

    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>Council bans face scanning</title><link>https://news.example/1</link>"
        b"</item></channel></rss>"
    )
    parse_feed(body, feed_url="https://news.example/feed.xml", now=NOW)  # imports expat once
    monkeypatch.setattr(sys, "meta_path", [Recorder(), *sys.meta_path])
    for _ in range(3):
        parsed = parse_feed(body, feed_url="https://news.example/feed.xml", now=NOW)
        assert [story.title for story in parsed.stories] == ["Council bans face scanning"]
    assert asked == []


HOSTILE_MARKUP = (
    'Ban <script>alert("x")</script>passed<style>p{}</style> <iframe src="//e.example">'
    'frame</iframe><a href="javascript:alert(1)" onclick="steal()">today</a>'
    '<img src=x onerror="steal()">'
)


@pytest.mark.parametrize(
    "body",
    [
        # escaped HTML, CDATA, and Atom XHTML: every way a feed carries markup in its text
        "<rss version='2.0'><channel><title>F</title><item><title>T</title>"
        "<link>https://n.example/a</link><description>{escaped}</description></item>"
        "</channel></rss>",
        "<rss version='2.0'><channel><title>F</title><item><title>T</title>"
        "<link>https://n.example/a</link><description><![CDATA[{raw}]]></description></item>"
        "</channel></rss>",
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>F</title><entry><title>T</title>"
        "<link href='https://n.example/a'/><id>urn:a</id><updated>2026-01-01T00:00:00Z</updated>"
        "<summary type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>{raw}</div></summary>"
        "</entry></feed>",
    ],
    ids=["escaped", "cdata", "atom-xhtml"],
)
def test_markup_in_feed_text_becomes_plain_text_without_feedparsers_sanitiser(body: str) -> None:
    """feedparser's sanitiser is off (its work is thrown away): `html_to_text` alone must drop
    script, style and frame content and every tag and attribute."""
    escaped = HOSTILE_MARKUP.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    raw = (
        HOSTILE_MARKUP.replace("src=x", 'src="x"')
        .replace("<img", "<img alt=''")
        .replace('onerror="steal()">', 'onerror="steal()"/>')
    )
    feed = parse_feed(
        body.format(escaped=escaped, raw=raw).encode(), feed_url="https://n.example/feed"
    )
    assert [story.summary for story in feed.stories] == ["Ban passed today"]
