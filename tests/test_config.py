"""Config loading: valid files load; each kind of mistake is reported with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Defaults, load_config, load_feed_list
from bot.errors import ConfigError, ConfigErrors

VALID = """\
defaults:
  interval: 120
topics:
  - name: frt
    channels: ["#alerts", "C0123ABCD"]
    threshold: 40
    query: '"facial recognition" AND (ban OR moratorium)'
  - name: simple
    channels: ["#other"]
    any: ["face scanning", "facial recognition"]
    all: [["ban", "law"]]
    none: ["unlock"]
feeds:
  - url: https://example.org/feed.xml
    name: Example
  - url: http://example.net/rss
    interval: 900
    topics: [frt]
"""


def write(tmp_path: Path, text: str, name: str = "newsbot.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_loads_every_part(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert config.defaults.interval == 120
    assert [t.name for t in config.topics] == ["frt", "simple"]
    assert config.topics[0].channels == ("#alerts", "C0123ABCD")
    assert "unlock" in config.topics[1].query  # the simple form compiles to a query
    assert config.feeds[0].interval == 120  # inherits the default
    assert config.feeds[1].interval == 900
    assert [t.name for t in config.topics_for(config.feeds[1])] == ["frt"]
    assert len(config.topics_for(config.feeds[0])) == 2


def test_sections_may_live_in_files_beside_the_main_file(tmp_path: Path) -> None:
    write(tmp_path, "- name: t\n  channels: ['#a']\n  query: ban\n", "topics.yaml")
    write(tmp_path, "- url: https://example.org/a\n", "feeds.yaml")
    config = load_config(write(tmp_path, "topics: topics.yaml\nfeeds: feeds.yaml\n"))
    assert config.topics[0].name == "t"
    assert config.feeds[0].url == "https://example.org/a"
    assert {p.name for p in config.files} == {"newsbot.yaml", "topics.yaml", "feeds.yaml"}


def test_shipped_config_is_valid() -> None:
    config = load_config(Path(__file__).parent.parent / "config" / "newsbot.yaml")
    assert 10 <= len(config.feeds) <= 20
    assert any("facial" in topic.name for topic in config.topics)


BROKEN = [
    (
        "threshold-out-of-range",
        VALID.replace("threshold: 40", "threshold: 140"),
        "newsbot.yaml:6 topics[frt].threshold: must be <= 100",
    ),
    (
        "unknown-key",
        VALID.replace("interval: 120", "intervall: 120"),
        "newsbot.yaml:2 defaults.intervall: unknown key",
    ),
    (
        "interval-too-small",
        VALID.replace("interval: 120", "interval: 1"),
        "newsbot.yaml:2 defaults.interval: must be >= 10, got 1",
    ),
    (
        "non-http-feed",
        VALID.replace("http://example.net/rss", "file:///etc/passwd"),
        "newsbot.yaml:16 feeds[1].url: must be an http(s) URL",
    ),
    (
        "unknown-topic-on-feed",
        VALID.replace("topics: [frt]", "topics: [frt, nope]"),
        "newsbot.yaml:18 feeds[1].topics: unknown topic 'nope'",
    ),
    (
        "no-channels",
        VALID.replace('channels: ["#other"]', "channels: []"),
        "newsbot.yaml:9 topics[simple].channels: must not be empty",
    ),
    (
        "bad-channel-name",
        VALID.replace('"#other"', '"#Has Spaces"'),
        "topics[simple].channels: not a Slack channel name",
    ),
    (
        "query-and-simple-form",
        VALID.replace("    any:", "    query: ban\n    any:"),
        "topics[simple]: give either `query` or `any`/`all`/`none`, not both",
    ),
    (
        "no-rule-at-all",
        VALID.replace("    query: '\"facial recognition\" AND (ban OR moratorium)'\n", ""),
        "topics[frt]: needs a `query`",
    ),
    (
        "query-syntax",
        VALID.replace("(ban OR moratorium)", "(ban OR moratorium"),
        "newsbot.yaml:7 topics[frt].query: query syntax error at column",
    ),
    (
        "duplicate-topic",
        VALID.replace("name: simple", "name: frt"),
        "topics[frt].name: duplicate topic name 'frt'",
    ),
    (
        "duplicate-feed",
        VALID.replace("http://example.net/rss", "https://example.org/feed.xml"),
        "feeds[1].url: duplicate feed",
    ),
    (
        "yaml-syntax",
        VALID.replace("  interval: 120", "  interval: [120"),
        "newsbot.yaml:2: YAML syntax error: a `,` or the closing `]` is missing",
    ),
    ("not-a-mapping", "- just\n- a list\n", "must be a mapping with `topics` and `feeds`"),
    ("missing-topics", "feeds: []\n", "topics: is required"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [(t, e) for _, t, e in BROKEN], ids=[name for name, _, _ in BROKEN]
)
def test_broken_config_names_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert expected in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("threshold: 40", "threshold: 140").replace(
        "http://example.net/rss", "ftp://example.net/rss"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_config(write(tmp_path, text))
    assert len(caught.value.errors) == 2


def test_block_scalar_query_error_points_at_the_line_inside_the_query(tmp_path: Path) -> None:
    text = (
        "topics:\n  - name: t\n    channels: ['#a']\n    query: |\n"
        '      "facial recognition"\n      AND (ban OR\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert "newsbot.yaml:6 topics[t].query" in str(caught.value)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


FEED_LISTS = [
    (
        "opml",
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="Tech">'
        '<outline text="A" title="Outlet A" type="rss" xmlUrl="https://a.example/rss"/>'
        '<outline text="B" xmlUrl="http://b.example/atom"/></outline></body></opml>',
        [("https://a.example/rss", "Outlet A"), ("http://b.example/atom", "B")],
    ),
    (
        "text",
        "# my feeds\nhttps://a.example/rss\n\n  http://b.example/atom  # trailing\n"
        "https://a.example/rss\n",
        [("https://a.example/rss", None), ("http://b.example/atom", None)],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, e) for _, t, e in FEED_LISTS],
    ids=[name for name, _, _ in FEED_LISTS],
)
def test_feed_lists_from_opml_or_text(
    tmp_path: Path, text: str, expected: list[tuple[str, str | None]]
) -> None:
    feeds = load_feed_list(write(tmp_path, text, "list"), Defaults(interval=77))
    assert [(f.url, f.name) for f in feeds] == expected
    assert all(f.interval == 77 for f in feeds)


BAD_FEED_LISTS = [
    ("non-http-line", "https://ok.example/\nfile:///etc/passwd\n", "list:2"),
    ("opml-without-feeds", "<opml><body><outline text='x'/></body></opml>", "no <outline"),
    ("opml-with-entities", '<!DOCTYPE x [<!ENTITY a "b">]><opml/>', "DOCTYPE/ENTITY"),
    ("broken-opml", "<opml><body>", "not valid OPML"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(t, e) for _, t, e in BAD_FEED_LISTS],
    ids=[name for name, _, _ in BAD_FEED_LISTS],
)
def test_bad_feed_lists_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_feed_list(write(tmp_path, text, "list"), Defaults())
    assert expected in str(caught.value)
