"""`eval --clusters`: metrics on a small hand-labelled file (tests/data/clusters_sample.jsonl).

The sample has five events: an Amazon pause reported three times (one syndicated copy, one
rewrite), a Microsoft decision the next day reported twice, two city bans voted the same day
with the same wording, a late Riverton report outside its event's window, and an Amazon
follow-up months later. One irrelevant item is skipped.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.matching.evaluate_clusters import cmd_eval_clusters
from bot.models import ClusterSettings
from tests.helpers import newsbot, write_config

SAMPLE = Path(__file__).parent / "data" / "clusters_sample.jsonl"
KEYS = {
    "events",
    "alerts",
    "repeats",
    "folded",
    "folded_fraction",
    "false_merges",
    "split_events",
    "assignments",
}


def run(path: Path, *, as_json: bool = True, settings: ClusterSettings | None = None) -> str:
    out = io.StringIO()
    assert cmd_eval_clusters(str(path), out, as_json=as_json, settings=settings) == 0
    return out.getvalue()


def test_json_metrics_on_the_sample() -> None:
    metrics = json.loads(run(SAMPLE))

    assert set(metrics) == KEYS
    assert {key: metrics[key] for key in KEYS - {"assignments"}} == {
        "events": 5,
        "alerts": 6,  # five events, plus the Riverton report outside its event's window
        "repeats": 4,
        "folded": 4,
        "folded_fraction": 1.0,
        "false_merges": 0,
        "split_events": 1,
    }
    assert metrics["assignments"] == [
        {"id": "s-01", "alert": "s-01"},
        {"id": "s-02", "alert": "s-01"},
        {"id": "s-03", "alert": "s-01"},
        {"id": "s-04", "alert": "s-04"},
        {"id": "s-05", "alert": "s-04"},
        {"id": "s-06", "alert": "s-06"},
        {"id": "s-07", "alert": "s-07"},
        {"id": "s-08", "alert": "s-06"},
        {"id": "s-10", "alert": "s-10"},
        {"id": "s-11", "alert": "s-11"},
    ]


def test_human_readable_report() -> None:
    text = run(SAMPLE, as_json=False)

    for line in (
        "events          5",
        "alerts posted   6",
        "folded          4 (100.0%)",
        "false merges    0",
        "split events    1",
    ):
        assert line in text


def test_disabled_clustering_folds_nothing() -> None:
    metrics = json.loads(run(SAMPLE, settings=ClusterSettings(enabled=False)))

    assert (metrics["alerts"], metrics["folded"], metrics["folded_fraction"]) == (10, 0, 0.0)


def line(item_id: str, event: str, day: str, title: str) -> str:
    return json.dumps(
        {
            "id": item_id,
            "title": title,
            "summary": "",
            "source": "Outlet",
            "published": day,
            "url": "",
            "label": "relevant",
            "event": event,
        }
    )


def test_false_merges_and_publication_order(tmp_path: Path) -> None:
    # Identical nameless headlines of two labelled events fold: one false merge. The file lists
    # them out of date order; the later-dated item must be decided second.
    path = tmp_path / "labelled.jsonl"
    headline = "Council votes to ban facial recognition by city agencies"
    path.write_text(
        line("b", "second", "2021-05-02", headline)
        + "\n"
        + line("a", "first", "2021-05-01", headline)
        + "\n",
        encoding="utf-8",
    )

    metrics = json.loads(run(path))

    assert metrics["assignments"] == [{"id": "a", "alert": "a"}, {"id": "b", "alert": "a"}]
    assert (metrics["false_merges"], metrics["repeats"], metrics["folded_fraction"]) == (1, 0, 1.0)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("not json", "{oops\n", "labelled.jsonl:1: not JSON"),
        (
            "no date",
            json.dumps({"id": "x", "title": "t", "label": "relevant", "event": "e"}),
            "labelled.jsonl:1: relevant item needs a non-empty string `published`",
        ),
        ("bad date", line("x", "e", "yesterday", "t"), "`published` is not an ISO date"),
    ],
)
def test_malformed_input_exits_2_naming_the_line(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text(content, encoding="utf-8")
    out = io.StringIO()

    assert cmd_eval_clusters(str(path), out, as_json=True) == 2, name
    assert expected in out.getvalue()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    out = io.StringIO()

    assert cmd_eval_clusters(str(tmp_path / "absent.jsonl"), out, as_json=False) == 2
    assert "absent.jsonl" in out.getvalue()


def test_month_only_dates_are_the_first_of_the_month(tmp_path: Path) -> None:
    # A source that gave only a month is dated so in labelled sets (as `eval` reads them):
    # "2019-07" is 1 July, so the later-dated report folds under it.
    path = tmp_path / "labelled.jsonl"
    headline = "Riverton council votes to ban facial recognition by city agencies"
    path.write_text(
        line("b", "ban", "2019-07-02", headline)
        + "\n"
        + line("a", "ban", "2019-07", headline)
        + "\n",
        encoding="utf-8",
    )

    metrics = json.loads(run(path))

    assert metrics["assignments"] == [{"id": "a", "alert": "a"}, {"id": "b", "alert": "a"}]
    assert (metrics["folded"], metrics["false_merges"]) == (1, 0)


EVENTS = Path(__file__).parent / "data" / "clusters_events.jsonl"


@pytest.mark.parametrize("headlines", ["as-written", "upper-cased", "title-cased"])
@pytest.mark.parametrize("path", [EVENTS, SAMPLE], ids=["events", "sample"])
def test_folding_holds_whatever_the_headline_capitals(
    tmp_path: Path, path: Path, headlines: str
) -> None:
    """`newsbot eval --clusters` as a user runs it, on project data (clusters_events.jsonl: ten
    events written for this test, with look-alikes on the same days: two city bans, one company
    fined by two regulators, one company following another, two state bills; reports led by a
    plaintiff, a regulator's acronym, "Key"/"Statement"/"Proceed" headlines) with every headline
    as written, in CAPITALS and in Title Case."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for item in lines:
        if headlines == "upper-cased":
            item["title"] = item["title"].upper()
        elif headlines == "title-cased":
            item["title"] = " ".join(word.capitalize() for word in item["title"].split())
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(item) + "\n" for item in lines), encoding="utf-8")

    result = newsbot(
        "eval",
        "--clusters",
        "--json",
        str(labelled),
        "--config",
        str(write_config(tmp_path / "config")),
        env={},
    )

    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["false_merges"] == 0
    assert metrics["folded_fraction"] >= 0.95, metrics
    assert metrics["repeats"] >= (17 if path == EVENTS else 4)
