"""The outbox's next-alert query as the queue grows: before issue 13 (a scan of the pending set)
and now (seeks in alerts_by_status).

    python -m bench.bench_outbox [--queued 5700 34000] [--channels 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.models import Alert, Match, Story, TermHit
from bot.state.sqlite import _QUEUED_HEADS
from bot.state.sqlite import SqliteStore as Store

BEFORE = (
    "SELECT a.*, p.ts AS parent_ts, p.channel_id AS parent_channel_id FROM alerts a "
    "LEFT JOIN alerts p ON p.id = a.parent_id WHERE a.seq IN "
    "(SELECT min(seq) FROM alerts WHERE status IN ('pending', 'sending') GROUP BY channel)"
    " ORDER BY a.seq"
)
MATCH = Match("topic", 80.0, (TermHit("ban", "title", "bans", 3, 100.0),))


def _alert(n: int, channel: str) -> Alert:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    story = Story(f"s{n}", f"https://news.example/{n}", f"Title {n}", "Summary", "Out", when)
    return Alert(f"a{n}", "topic", channel, story, MATCH)


def _ms_per_query(store: Store, sql: str, repeat: int = 100) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        store._db.execute(sql).fetchall()
    return (time.perf_counter() - started) / repeat * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, nargs="+", default=[5700, 34000])
    parser.add_argument("--channels", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'queued':>7} {'before ms':>10} {'after ms':>9}")
    for count in args.queued:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "newsbot.db")
            with store.poll("https://feed.example/rss") as tx:
                alerts = [_alert(n, f"#c{n % args.channels}") for n in range(count)]
                tx.record(
                    title=None, etag=None, last_modified=None, stories=[], alerts=alerts, next_due=0
                )
            before, after = _ms_per_query(store, BEFORE), _ms_per_query(store, _QUEUED_HEADS)
            store.close()
        print(f"{count:>7} {before:>10.3f} {after:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
