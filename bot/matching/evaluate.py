"""Bodies of the `newsbot match`, `explain` and `eval` commands; each returns the exit code.

- `cmd_match`: JSON lines in (`id`, `title`, `summary`, optional `url`/`source`/`published`), one
  JSON line out per good input line: `{"id": ..., "topics": [{"name", "score", "terms"}]}`.
  A bad line (not JSON, not an object, no `title`) is skipped and reported on stderr as
  `<input>:<line>: <problem>`; the others are still matched, and the exit code is then 2, so a
  pipeline neither loses good stories nor mistakes a broken input for a quiet day.
- `cmd_explain`: the matcher's explanation of a story (headline and summary): the same verdict
  `cmd_match` gives, from the same `Matcher._judge`, with the evidence behind it.
- `cmd_eval`: labelled JSON lines (`title`, `summary`, `label` = relevant/irrelevant). A story is
  predicted relevant when it matches any of the topics. Prints precision, recall, F1, the confusion
  matrix and every false positive and false negative with its explanation, or all of it as one
  JSON object. A bad line stops the evaluation (exit 2): metrics over part of a file would mislead.
- `load_topics_file(path)`: topics from a YAML list file (bench and tests), via the config loader.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.config import load_topics
from bot.errors import NewsbotError
from bot.matching.match import Matcher
from bot.models import Topic

log = logging.getLogger(__name__)

LABELS = ("relevant", "irrelevant")


class InputError(NewsbotError):
    """One input line is unusable; `line` is 1-based."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"{source}:{line}: {message}")


@dataclass(frozen=True, slots=True)
class Outcome:
    """One labelled story and the matcher's decision on it."""

    id: str
    title: str
    summary: str
    relevant: bool
    predicted: bool


def cmd_match(
    topics: Sequence[Topic], infile: TextIO, out: TextIO, *, err: TextIO | None = None
) -> int:
    """Match each JSON line of `infile`; write one JSON line per story (module docstring)."""
    err = err or sys.stderr
    matcher = Matcher(topics)
    status = 0
    for item in _items(infile, err):
        if isinstance(item, InputError):
            status = 2
            continue
        matches = matcher.match(item["title"], item.get("summary") or "")
        found = [{"name": m.topic, "score": m.score, "terms": m.terms} for m in matches]
        out.write(json.dumps({"id": item.get("id"), "topics": found}, ensure_ascii=False) + "\n")
    return status


def cmd_explain(topics: Sequence[Topic], title: str, summary: str, out: TextIO) -> int:
    """Explain how every topic judges the story: the verdict `cmd_match` gives, and why."""
    out.write(Matcher(topics).explain(title, summary) + "\n")
    return 0


def read_story(infile: TextIO) -> dict[str, Any]:
    """One JSON story (an object with `title`, optional `summary`) from `infile`."""
    text = infile.read()
    try:
        return _story_item(text.strip() or "null", "<stdin>", 1)
    except InputError as error:
        raise ExplainInputError(str(error)) from None


class ExplainInputError(NewsbotError):
    """The story given to `explain -` is not a JSON object with a title."""


def cmd_eval(
    topics: Sequence[Topic], path: str, out: TextIO, *, as_json: bool, err: TextIO | None = None
) -> int:
    """Measure the topics against the labelled file at `path` (module docstring)."""
    err = err or sys.stderr
    matcher = Matcher(topics)
    try:
        with open(path, encoding="utf-8") as infile:
            outcomes = [_judge(matcher, item) for item in read_labelled(infile, path)]
    except (OSError, InputError) as error:
        err.write(f"eval: {error}\n")
        return 2
    report = _report(outcomes, matcher)
    out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n" if as_json else _text(report))
    return 0


def load_topics_file(path: str) -> list[Topic]:
    """Topics from a YAML list file (for the benchmark and tests), validated like the config."""
    return list(load_topics(Path(path)))


# -- reading input ---------------------------------------------------------------------------


def _items(infile: TextIO, err: TextIO) -> Iterator[dict[str, Any] | InputError]:
    """Each story of a JSON-lines stream, or the InputError of a bad line (already reported)."""
    source = getattr(infile, "name", "<input>")
    for number, line in enumerate(infile, start=1):
        if not line.strip():
            continue
        try:
            yield _story_item(line, str(source), number)
        except InputError as error:
            err.write(f"match: {error}\n")
            log.warning("bad input line", extra={"source": source, "line": number})
            yield error


def _story_item(line: str, source: str, number: int) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(source, number, f"not JSON ({error.msg})") from error
    if not isinstance(item, dict):
        raise InputError(source, number, "expected a JSON object")
    if not isinstance(item.get("title"), str):
        raise InputError(source, number, "missing string field 'title'")
    if not isinstance(item.get("summary") or "", str):
        raise InputError(source, number, "field 'summary' must be a string")
    return item


def read_labelled(infile: TextIO, source: str) -> Iterator[dict[str, Any]]:
    """The labelled stories of a JSON-lines stream; InputError names the first bad line."""
    for number, line in enumerate(infile, start=1):
        if not line.strip():
            continue
        item = _story_item(line, source, number)
        if item.get("label") not in LABELS:
            raise InputError(source, number, f"label must be one of {LABELS}")
        item.setdefault("id", f"line-{number}")
        yield item


# -- metrics and reports ---------------------------------------------------------------------


def _judge(matcher: Matcher, item: dict[str, Any]) -> Outcome:
    summary = item.get("summary") or ""
    predicted = bool(matcher.match(item["title"], summary))
    relevant = item["label"] == "relevant"
    return Outcome(str(item["id"]), item["title"], summary, relevant, predicted)


def _report(outcomes: list[Outcome], matcher: Matcher) -> dict[str, Any]:
    tp = sum(o.relevant and o.predicted for o in outcomes)
    fp = sum(o.predicted and not o.relevant for o in outcomes)
    fn = sum(o.relevant and not o.predicted for o in outcomes)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "count": len(outcomes),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": len(outcomes) - tp - fp - fn},
        "false_positives": _errors(outcomes, matcher, predicted=True),
        "false_negatives": _errors(outcomes, matcher, predicted=False),
    }


def _errors(outcomes: list[Outcome], matcher: Matcher, *, predicted: bool) -> list[dict[str, str]]:
    wrong = [o for o in outcomes if o.predicted == predicted and o.relevant != predicted]
    return [
        {"id": o.id, "title": o.title, "explanation": matcher.explain(o.title, o.summary)}
        for o in wrong
    ]


def _text(report: dict[str, Any]) -> str:
    matrix = report["confusion"]
    lines = [
        f"stories: {report['count']}",
        f"precision {report['precision']:.3f}  recall {report['recall']:.3f}"
        f"  F1 {report['f1']:.3f}",
        "",
        "confusion matrix    predicted relevant  predicted irrelevant",
        f"  relevant          {matrix['tp']:>18}  {matrix['fn']:>20}",
        f"  irrelevant        {matrix['fp']:>18}  {matrix['tn']:>20}",
    ]
    for heading, key in (
        ("false positives", "false_positives"),
        ("false negatives", "false_negatives"),
    ):
        lines.append(f"\n{heading} ({len(report[key])}):")
        for error in report[key]:
            lines.append(f"- {error['id']}: {error['title']}")
            lines.extend(f"    {line}" for line in error["explanation"].splitlines())
    return "\n".join(lines) + "\n"
