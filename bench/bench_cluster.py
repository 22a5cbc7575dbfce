"""Clustering cost per story as the stored alerts grow: full comparison vs index + blocking.

    python -m bench.bench_cluster [--stored 500 2000 8000] [--new 200] [--json]

A real Store on a temp file holds N alerts in one channel, all within the clustering window:
the stories of the relevance sets (tests/data/relevance/*.jsonl), cycled with distinct ids and
URLs. Then --new stories of the same sets are planned one poll each (`plan.plan_alerts`,
inside a store transaction as a poll does) both ways:
- full: `stored_reports` (every stored alert read back and decoded, then scored), as before
  issue 13;
- index: `ReportIndex` (features computed once) with blocking (scored only against alerts that
  share a distinctive name or a near-copy headline).
It prints CPU ms per story for both, and checks that both made the same decisions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.alerts.plan import Reports, plan_alerts
from bot.matching.cluster_index import ReportIndex
from bot.models import Alert, Match, Story, TermHit, Topic
from bot.service.pipeline import stored_reports
from bot.state.sqlite import SqliteStore as Store

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "relevance"
MATCH = Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0),))
TOPIC = Topic("topic", ("#news",), "ban")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _texts() -> list[tuple[str, str]]:
    texts = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                texts.append((raw["title"], raw.get("summary") or ""))
    return texts


def _story(n: int, texts: list[tuple[str, str]], when: datetime) -> Story:
    title, summary = texts[n % len(texts)]
    return Story(f"s{n}", f"https://news.example/{n}", title, summary, "Outlet", when)


def _fill(store: Store, count: int, texts: list[tuple[str, str]]) -> None:
    start = NOW - timedelta(hours=60)
    alerts = [
        Alert(f"a{n}", "topic", "#news", story, MATCH)
        for n in range(count)
        for story in [_story(n, texts, start + timedelta(seconds=n * 20))]
    ]
    with store.poll("https://feed.example/rss") as tx:
        tx.record(
            title="Feed",
            etag=None,
            last_modified=None,
            stories=[],
            alerts=alerts,
            next_due=0,
        )


def _run(store: Store, stories: list[Story], mode: str) -> tuple[float, list[str | None]]:
    index = ReportIndex(lambda: NOW.timestamp())
    # the index's first load is start-up, not per story
    index.reports(store, "#news", NOW.timestamp() - 144 * 3600)
    decided: list[str | None] = []
    started = time.process_time()
    for story in stories:
        with store.poll("https://feed.example/rss") as tx:
            reports: Reports = (
                stored_reports(store)
                if mode == "full"
                else lambda ch, since, url, like: index.reports(tx, ch, since, url, like=like)
            )
            planned = plan_alerts(
                [(story, TOPIC, MATCH)], reports, NOW.timestamp(), blocking=mode == "index"
            )
        decided += [alert.parent_id for alert in planned]
    return (time.process_time() - started) * 1000 / len(stories), decided


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[500, 2000, 8000])
    parser.add_argument("--new", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    texts = _texts()
    rows = []
    for count in args.stored:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "newsbot.db")
            _fill(store, count, texts)
            stories = [_story(count + 7 * n + 3, texts, NOW) for n in range(args.new)]
            full_ms, full = _run(store, stories, "full")
            index_ms, indexed = _run(store, stories, "index")
            store.close()
        rows.append(
            {
                "stored": count,
                "full_ms_per_story": round(full_ms, 2),
                "index_ms_per_story": round(index_ms, 2),
                "same_decisions": full == indexed,
                "folds": sum(1 for parent in full if parent),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(
            f"{'stored':>7} {'full ms/story':>14} {'index ms/story':>15} {'same':>5} {'folds':>6}"
        )
        for row in rows:
            print(
                f"{row['stored']:>7} {row['full_ms_per_story']:>14} "
                f"{row['index_ms_per_story']:>15} {row['same_decisions']!s:>5} {row['folds']:>6}"
            )
    return 0 if all(row["same_decisions"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
