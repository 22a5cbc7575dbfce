"""Hostile topic queries (issue 11 #8, #12): nesting depth is bounded with a clear error, and a
long OR list is one lookup, not a walk over thousands of alternatives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import QuerySyntaxError
from bot.matching.match import Matcher
from bot.matching.query import MAX_DEPTH, parse
from bot.models import Topic
from tests.feedserver import FeedServer
from tests.helpers import (
    TEST_TOPICS,
    Item,
    get,
    newsbot,
    rss,
    running_service,
    wait_until,
    write_config,
)

DEEP = [
    ("parentheses", "(" * 300 + "ban" + ")" * 300),
    ("not-chain", "ban AND " + "NOT " * 1000 + "bank"),
    ("minus-chain", "ban " + "-" * 1000 + "bank"),
    ("field-chain", "title:(" * 300 + "ban" + ")" * 300),
    ("near-chain", "ban" + " NEAR/1 ban" * 1000),
]


def _topics(query: str) -> str:
    indented = query.replace("\n", "\n    ")
    return f'- name: deep\n  channels: ["#x"]\n  query: |\n    {indented}\n'


@pytest.mark.parametrize("query", [c[1] for c in DEEP], ids=[c[0] for c in DEEP])
def test_deeply_nested_query_is_a_check_error_naming_file_line(tmp_path: Path, query: str) -> None:
    config = write_config(tmp_path, topics=_topics(query))
    result = newsbot("check", "--config", str(config), env={})
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr[-2000:]
    assert "topics.yaml:4 topics[deep].query: query syntax error at column" in result.stderr
    assert f"nested more than {MAX_DEPTH} levels deep" in result.stderr


def test_deeply_nested_concepts_are_a_check_error_naming_the_concept(tmp_path: Path) -> None:
    # Each concept is 30 levels deep by itself and nests the one before it: c4 is 124 deep.
    lines = ["      c0: ban"]
    for n in range(1, 40):
        query = f"@c{n - 1}"
        for level in range(30):
            query = f"(y{level} OR {query})"
        lines.append(f"      c{n}: '{query}'")
    config = tmp_path / "newsbot.yaml"
    config.write_text(
        "topics:\n  - name: t\n    channels: ['#c']\n    concepts:\n"
        + "\n".join(lines)
        + "\n    query: '@c39'\nfeeds: []\n",
        encoding="utf-8",
    )
    result = newsbot("check", "--config", str(config), env={})
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr[-2000:]
    assert "newsbot.yaml:9 topics[t].concepts.c4:" in result.stderr
    assert f"in concept @c4: nested more than {MAX_DEPTH} levels deep" in result.stderr


def test_query_at_the_depth_limit_still_parses_and_matches() -> None:
    query = "ban"
    for level in range(MAX_DEPTH):  # a real tree MAX_DEPTH deep: ORs, and ANDs with a NOT
        query = f"({query} -zz{level})" if level % 2 else f"(law{level} OR {query})"
    matcher = Matcher([Topic("deep", ("#x",), query, threshold=0)])
    assert [m.topic for m in matcher.match("City votes ban", "")] == ["deep"]
    assert "topic deep: match, rules match" in matcher.explain("City votes ban", "")
    with pytest.raises(QuerySyntaxError, match="nested more than"):
        parse("(" + query + ")")


def test_deeply_nested_query_reload_is_rejected_once_and_shown_in_readyz(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/a.xml", rss([Item("a1", "Town bans facial recognition")]))
    folder = tmp_path / "config"
    folder.mkdir()
    topics = folder / "topics.yaml"
    topics.write_text(TEST_TOPICS, encoding="utf-8")
    config = folder / "newsbot.yaml"
    config.write_text(
        f"defaults:\n  jitter: 0\ntopics: topics.yaml\nfeeds:\n"
        f"  - url: {feed_server.url('/a.xml')}\n",
        encoding="utf-8",
    )
    env = {"NEWSBOT_DB": str(tmp_path / "state.db")}
    with running_service(config, env, tmp_path / "service.log") as service:
        readyz = service.url("/readyz")
        wait_until(lambda: get(readyz)[0] == 200, timeout=30)
        topics.write_text(_topics("(" * 500 + "ban" + ")" * 500), encoding="utf-8")
        wait_until(lambda: "config change rejected" in service.logs())
        time.sleep(5)  # two more reload checks
        text = service.logs()
        assert "Traceback" not in text
        assert text.count("config change rejected") == 1
        assert "nested more than" in text
        status, body = get(readyz)
        assert status == 503
        assert "nested more than" in body
        topics.write_text(TEST_TOPICS, encoding="utf-8")  # fixed: ready again
        wait_until(lambda: get(readyz)[0] == 200)
        assert service.stop(timeout=20) == 0


def _huge_or(count: int) -> tuple[str, list[str]]:
    words = [f"w{n:05d}x" for n in range(count)]  # distinct words, no stem shares a prefix
    phrases = [f'"{a} {b}"' for a, b in zip(words[:200:2], words[1:200:2], strict=True)]
    return " OR ".join(words + phrases), words


def test_huge_or_list_looks_only_at_the_terms_a_story_contains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    query, words = _huge_or(10_000)
    matcher = Matcher([Topic("big", ("#x",), query, threshold=0)])
    calls = 0
    walk = Matcher._worth

    def counting(self: Matcher, *args: object) -> object:
        nonlocal calls
        calls += 1
        return walk(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Matcher, "_worth", counting)
    title = f"Council names {words[7]} and {words[9_999]} in report"
    matches = matcher.match(title, f"{words[0]} {words[1]} said")
    assert [m.topic for m in matches] == ["big"]
    found = {hit.text for hit in matches[0].hits}
    assert found == {words[7], words[9_999], f"{words[0]} {words[1]}", words[0], words[1]}
    assert calls < 20  # was one per alternative: 10,101
    assert matcher.match("nothing here", "at all") == []
    calls = 0
    assert "topic big: match, rules match" in matcher.explain(title, "")
    assert calls < 20
