"""`newsbot check` as an admin meets it: each broken config is named where it is broken, and how
to fix it (a real subprocess on files written to a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, newsbot

MAIN = "defaults:\n  interval: 300\ntopics: topics.yaml\nfeeds: feeds.yaml\n"
TOPICS = """\
- name: facial-recognition-policy
  channels: ["#facial-recognition"]
  query: |
    ("facial recognition" OR "face recognition")
    AND (ban OR moratorium OR law)
- name: biometric-privacy
  channels: ["#privacy"]
  any: ["biometric privacy", "BIPA"]
  none: ["unlock"]
"""
FEEDS = """\
- url: https://news.example/rss
  name: Example News
- url: https://other.example/atom
  topics: [biometric-privacy]
"""


def check(folder: Path, main: str = MAIN, topics: str | None = TOPICS, feeds: str = FEEDS) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "newsbot.yaml").write_text(main, encoding="utf-8")
    if topics is not None:
        (folder / "topics.yaml").write_text(topics, encoding="utf-8")
    (folder / "feeds.yaml").write_text(feeds, encoding="utf-8")
    result = newsbot("check", "--config", str(folder / "newsbot.yaml"), env={})
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_a_misspelt_required_key_is_one_error_not_two(tmp_path: Path) -> None:
    out = check(
        tmp_path, topics=TOPICS.replace('  channels: ["#privacy"]', '  chanels: ["#privacy"]')
    )
    assert out.startswith("exit 2"), out
    assert "did you mean `channels`?" in out
    assert "is required" not in out  # the misspelling explains the missing key


def test_the_valid_example_passes(tmp_path: Path) -> None:
    out = check(tmp_path)
    assert out.startswith("exit 0"), out
    assert "OK (2 topics, 2 feeds)" in out


CASES = [
    (
        "misspelled-key-suggests-the-right-one",
        {"topics": TOPICS.replace('  channels: ["#privacy"]', '  chanels: ["#privacy"]')},
        [
            "topics.yaml:7 topics[biometric-privacy].chanels: unknown key `chanels`: "
            "did you mean `channels`?"
        ],
    ),
    (
        "misspelled-default-suggests-the-right-one",
        {"main": MAIN.replace("interval: 300", "intervall: 300")},
        ["newsbot.yaml:2 defaults.intervall: unknown key `intervall`: did you mean `interval`?"],
    ),
    (
        "paths-name-the-topic-not-its-index",
        {"topics": TOPICS.replace('["#privacy"]', '["#Privacy Team"]')},
        ["topics.yaml:7 topics[biometric-privacy].channels: not a Slack channel name"],
    ),
    (
        "paths-name-the-feed",
        {"feeds": FEEDS.replace("  name: Example News", "  name: Example News\n  interval: 1")},
        ["feeds.yaml:3 feeds[Example News].interval: must be >= 10, got 1"],
    ),
    (
        "unknown-topic-on-a-feed-suggests-one",
        {"feeds": FEEDS.replace("[biometric-privacy]", "[biometrics-privacy]")},
        ["feeds[1].topics: unknown topic 'biometrics-privacy' (did you mean 'biometric-privacy'?)"],
    ),
    (
        "simple-form-under-query-says-where-it-belongs",
        {
            "topics": TOPICS.replace(
                '  any: ["biometric privacy", "BIPA"]\n  none: ["unlock"]\n',
                '  query:\n    any: ["biometric privacy", "BIPA"]\n    none: ["unlock"]\n',
            )
        },
        [
            "topics.yaml:8 topics[biometric-privacy].query: the simple form (`any`/`all`/`none`)"
            " is not written under `query:`: put `any:`/`all:`/`none:` directly in the topic",
        ],
    ),
    (
        "missing-topics-file-points-at-the-key-naming-it",
        {"topics": None},
        ["newsbot.yaml:3 topics: names the file 'topics.yaml', which does not exist"],
    ),
    (
        "yaml-error-on-the-line-that-lacks-the-bracket",
        {"feeds": FEEDS.replace("[biometric-privacy]", "[biometric-privacy")},
        ["feeds.yaml:4: YAML syntax error: a `,` or the closing `]` is missing"],
    ),
    (
        "yaml-unclosed-quote-on-the-line-that-opens-it",
        {"feeds": FEEDS.replace("name: Example News", 'name: "Example News')},
        ["feeds.yaml:2: YAML syntax error: a quote opened here is never closed"],
    ),
    (
        "yaml-missing-colon-on-its-line",
        {"feeds": FEEDS.replace("  name: Example News", "  name Example News")},
        ["feeds.yaml:2: YAML syntax error: a key without its `:`"],
    ),
    (
        "query-error-points-at-line-and-column-with-a-caret",
        {"topics": TOPICS.replace("(ban OR moratorium OR law)", "(ban OR OR law)")},
        [
            "topics.yaml:5 topics[facial-recognition-policy].query: query syntax error at "
            "column 17: 'OR' where a term was expected",
            "        AND (ban OR OR law)\n                    ^\n",
        ],
    ),
]


@pytest.mark.parametrize(
    ("files", "expected"), [(f, e) for _, f, e in CASES], ids=[name for name, _, _ in CASES]
)
def test_check_says_where_and_how_to_fix(
    tmp_path: Path, files: dict[str, str | None], expected: list[str]
) -> None:
    out = check(tmp_path, **files)  # type: ignore[arg-type]
    assert out.startswith("exit 2"), out
    for text in expected:
        assert text in out, out


def test_the_readme_shows_a_valid_topic_in_each_form(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(# topics\.yaml.*?)```", readme, flags=re.DOTALL)
    assert len(examples) == 2, "the README shows the rule-language and the simple form"
    assert "query:" in examples[0]
    assert "all:" in examples[1]
    assert "query:" not in examples[1]
    for number, topics in enumerate(examples):
        out = check(tmp_path / str(number), topics=topics, feeds="[]\n")
        assert out.startswith("exit 0"), out
