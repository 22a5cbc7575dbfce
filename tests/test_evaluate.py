"""bot.matching.evaluate: the match / explain / eval command bodies and the topics file loader."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.matching.evaluate import cmd_eval, cmd_explain, cmd_match, load_topics_file
from bot.models import Topic

DATA = Path(__file__).parent / "data"
TOPICS = [
    Topic("faces", ("#f",), '"face scanning" NEAR/6 (ban OR fine OR rules) -eviction', 50.0),
    Topic("bans", ("#b",), "ban -eviction", 50.0),
]


def test_cmd_match_writes_one_json_line_per_story() -> None:
    lines = [
        {"id": "a", "title": "City bans face scanning", "summary": "", "url": "https://x/a"},
        {"id": "b", "title": "Weather is fine", "summary": "Sunny."},
    ]
    infile = io.StringIO("".join(json.dumps(line) + "\n" for line in lines))
    out = io.StringIO()
    assert cmd_match(TOPICS, infile, out) == 0
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {
        "id": "a",
        "topics": [
            {"name": "faces", "score": 100.0, "terms": ["ban", '"face scanning"']},
            {"name": "bans", "score": 100.0, "terms": ["ban"]},
        ],
    }
    assert second == {"id": "b", "topics": []}


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x"}', "missing string field 'title'"),
        ('{"id": "x", "title": "t", "summary": 3}', "'summary' must be a string"),
    ],
    ids=["not-json", "not-object", "no-title", "summary-not-string"],
)
def test_cmd_match_reports_bad_line_and_goes_on(bad_line: str, message: str) -> None:
    good = json.dumps({"id": "g", "title": "Ban passes"})
    infile, out, err = io.StringIO(f"{good}\n{bad_line}\n{good}\n"), io.StringIO(), io.StringIO()
    assert cmd_match(TOPICS, infile, out, err=err) == 2
    assert len(out.getvalue().splitlines()) == 2
    assert ":2: " in err.getvalue()
    assert message in err.getvalue()


def test_cmd_explain_treats_text_as_headline() -> None:
    out = io.StringIO()
    assert cmd_explain(TOPICS, "Face scanning ban", "", out) == 0
    text = out.getvalue()
    assert "topic faces: match, rules match, score 100" in text
    assert "in title at 0: 'face scanning'" in text


def test_cmd_eval_text_report() -> None:
    out = io.StringIO()
    assert cmd_eval(TOPICS[:1], str(DATA / "labelled.jsonl"), out, as_json=False) == 0
    text = out.getvalue()
    assert "precision 0.667  recall 0.667  F1 0.667" in text
    assert "false positives (1):\n- i3: Band plays face scanning ban song" in text
    assert "false negatives (1):\n- r3: Lawmakers debate new camera rules" in text
    assert "closest miss" in text


def test_cmd_eval_json_report() -> None:
    out = io.StringIO()
    assert cmd_eval(TOPICS[:1], str(DATA / "labelled.jsonl"), out, as_json=True) == 0
    report = json.loads(out.getvalue())
    assert report["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert (report["precision"], report["recall"], report["f1"]) == (0.6667, 0.6667, 0.6667)
    assert [error["id"] for error in report["false_positives"]] == ["i3"]
    assert [error["id"] for error in report["false_negatives"]] == ["r3"]
    assert ": match," in report["false_positives"][0]["explanation"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"title": "x", "label": "maybe"}\n', ":1: label must be one of"),
        ('{"title": "x", "label": "relevant"}\n{oops\n', ":2: not JSON"),
    ],
    ids=["bad-label", "bad-json"],
)
def test_cmd_eval_stops_on_bad_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(content, encoding="utf-8")
    err = io.StringIO()
    assert cmd_eval(TOPICS, str(path), io.StringIO(), as_json=False, err=err) == 2
    assert message in err.getvalue()


def test_cmd_eval_missing_file(tmp_path: Path) -> None:
    err = io.StringIO()
    assert cmd_eval(TOPICS, str(tmp_path / "nope.jsonl"), io.StringIO(), as_json=True, err=err) == 2
    assert "nope.jsonl" in err.getvalue()


def test_load_topics_file_query_and_simple_form(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(
        "- name: q\n  channels: ['#a']\n  threshold: 70\n  query: ban OR law\n"
        "  cluster: {window_hours: 24}\n"
        "- name: s\n  channels: ['#b']\n  any: [frt]\n  all: [[ban, law]]\n  none: [eviction]\n",
        encoding="utf-8",
    )
    first, second = load_topics_file(str(path))
    assert (first.name, first.channels, first.threshold) == ("q", ("#a",), 70.0)
    assert first.cluster.window_hours == 24.0
    assert second.query == "(frt) AND (ban OR law) AND NOT eviction"


@pytest.mark.parametrize(
    ("content", "error"),
    [("name: x\n", ConfigError), ("- channels: []\n", ConfigError),
     ("- name: x\n  channels: ['#a']\n  query: 'ban OR'\n", ConfigError)],
    ids=["not-a-list", "no-name", "bad-query"],
)  # fmt: skip
def test_load_topics_file_rejects(tmp_path: Path, content: str, error: type[Exception]) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error):
        load_topics_file(str(path))
