"""`newsbot explain` is the matcher: on every story of the project's labelled corpus it gives the
verdict `newsbot match` gives, with the shipped config (meaning stage included)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.matching.evaluate import cmd_match
from bot.matching.match import Matcher

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "data" / "relevance").glob("*.jsonl"))
TOPIC = "facial-recognition-policy"


def _stories() -> list[dict[str, str]]:
    return [
        json.loads(line)
        for path in CORPUS
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_corpus_is_there() -> None:
    assert len(_stories()) >= 400


def test_explain_agrees_with_match_on_the_whole_corpus() -> None:
    topics = load_config(ROOT / "config" / "newsbot.yaml").topics
    stories = _stories()
    lines = "".join(json.dumps(story) + "\n" for story in stories)
    out = io.StringIO()
    assert cmd_match(topics, io.StringIO(lines), out) == 0
    matched = {
        row["id"]: any(t["name"] == TOPIC for t in row["topics"])
        for row in map(json.loads, out.getvalue().splitlines())
    }
    explainer = Matcher(topics)  # what cmd_explain builds, once for the whole corpus
    disagreements = []
    for story in stories:
        text = explainer.explain(story["title"], story.get("summary") or "")
        says_match = f"topic {TOPIC}: match," in text
        assert says_match or f"topic {TOPIC}: no match," in text
        if says_match != matched[story["id"]]:
            disagreements.append(story["id"])
    assert disagreements == []
    assert any(matched.values())
    assert not all(matched.values())


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_explain_command_agrees_with_match_command(tmp_path: Path, index: int) -> None:
    relevant = [s for s in _stories() if s["label"] == "relevant"]
    irrelevant = [s for s in _stories() if s["label"] == "irrelevant"]
    story = (relevant + irrelevant)[index * 97 % (len(relevant) + len(irrelevant))]
    newsbot = [sys.executable, "-m", "bot"]
    env_config = ["--config", str(ROOT / "config" / "newsbot.yaml")]
    matched = subprocess.run(
        [*newsbot, "match", *env_config],
        input=json.dumps(story) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    explained = subprocess.run(
        [*newsbot, "explain", *env_config, story["title"], "--summary", story.get("summary", "")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    from_stdin = subprocess.run(
        [*newsbot, "explain", *env_config, "-"],
        input=json.dumps(story),
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    is_match = bool(json.loads(matched.stdout)["topics"])
    verdict = f"topic {TOPIC}: match," if is_match else f"topic {TOPIC}: no match,"
    assert verdict in explained.stdout
    assert explained.stdout.split("\n\n")[0] == from_stdin.stdout.split("\n\n")[0]


def test_explain_of_a_bad_json_story_exits_2() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "explain",
            "--config",
            str(ROOT / "config" / "newsbot.yaml"),
            "-",
        ],
        input='{"summary": "no title"}',
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "missing string field 'title'" in done.stderr
