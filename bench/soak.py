"""Soak benchmark: memory stays flat while newsbot polls 1,000 feeds for 200 cycles.

    python -m bench.soak [--feeds 1000] [--cycles 200] [--workers 8] [--trace]

What runs is newsbot's own poll path, in this process: `bot.service.pipeline.poll_feed` for every
feed every cycle, on a thread pool of 8 like the service's, with a Runtime built as
bot/service/wiring.py builds it (a real Store on a temp file, a real Fetcher, the shipped topics
from config/newsbot.yaml with the feeds replaced, Metrics, logging set up as `newsbot run` does it
but written to /dev/null), then the outbox drained into a TerminalSender writing to a StringIO that
is cleared every cycle.

Time is compressed: one cycle is one 5-minute poll interval on the clock given to the Runtime,
the Store and the Outbox, so 200 cycles are ~17 hours of service. Every hour of that clock the
state is pruned as the service does (`Store.prune`), with a retention of --retention-hours
(default 6) so the prune reaches its steady state within the run.

The feeds come from one FeedServer in a child process (`python -m bench.soak --serve DIR`: the
server's own bookkeeping stays out of the measured RSS), serving one small RSS file per feed
(--items, default 4). Before each cycle about 90% of the feeds get a new item (a 200 with one
new story), the rest are left alone (a 304); about 1 new story in 100 is about a facial
recognition ban, so alerts are planned, clustered, queued and delivered too.

RSS is read from /proc/self/status: VmRSS after each cycle, VmHWM (the peak) at the end. The
growth figure compares the RSS after cycle 20 (warm: caches, pools, the state tables' first
pages) with the RSS after the last cycle. --trace also traces Python's allocations
(tracemalloc): it reports the traced memory at both points and at its peak next to RSS, and the
allocation sites that grew most between them (slow: use it on a smaller run).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/soak.py` as well as `python -m bench.soak`
    sys.path.insert(0, str(ROOT))

from bot.alerts.outbox import Outbox  # noqa: E402
from bot.alerts.pacing import ChannelPacer  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.feeds.fetch import Fetcher, FetchLimits  # noqa: E402
from bot.logs import setup_logging  # noqa: E402
from bot.matching.match import Matcher  # noqa: E402
from bot.models import FeedSpec  # noqa: E402
from bot.service.memory import keep_large_blocks_out_of_heaps  # noqa: E402
from bot.service.metrics import Metrics  # noqa: E402
from bot.service.pipeline import PollOutcome, Runtime, poll_feed  # noqa: E402
from bot.slack.deliver import TerminalSender  # noqa: E402
from bot.state.sqlite import SqliteStore as Store  # noqa: E402

CYCLE_SECONDS = 300.0  # compressed time: one cycle is one default poll interval
PRUNE_EVERY = 3600.0  # compressed seconds between prunes
WARM_CYCLE = 20
CHANGE_RATE = 0.9  # share of feeds with a new item each cycle (the rest answer 304)
RELEVANT_RATE = 0.01  # share of new stories that match the shipped topic
TOWNS = (
    "Ashford",
    "Belmont",
    "Corby",
    "Dunmore",
    "Elgin",
    "Fenwick",
    "Garland",
    "Holt",
    "Ingram",
    "Kelso",
    "Lorton",
    "Marlow",
    "Norbury",
    "Oakham",
    "Penrith",
    "Quorn",
)
RELEVANT = (
    "{town} council votes to ban police use of facial recognition",
    "{town} regulator fines retailer over face recognition cameras",
    "Judge halts {town} facial recognition program pending lawsuit",
)
FILLER = (
    "{town} opens a new library branch",
    "{town} bakery wins regional prize",
    "Storm closes roads around {town}",
    "{town} school board approves budget",
    "{town} football club signs new coach",
    "Train delays expected near {town}",
)


class Clock:
    """The compressed clock: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class SoakResult:
    feeds: int
    cycles: int
    polls: int = 0
    seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    new_stories: int = 0
    alerts_queued: int = 0
    delivered: int = 0
    pruned_stories: int = 0
    pruned_alerts: int = 0
    rss_by_cycle: list[float] = field(default_factory=list)  # MB after each cycle
    peak_mb: float = 0.0
    db_mb: float = 0.0
    trace: list[str] = field(default_factory=list)
    traced_mb: list[float] = field(default_factory=list)  # tracemalloc: cycle 20, end, peak

    @property
    def warm_mb(self) -> float:
        index = min(WARM_CYCLE, len(self.rss_by_cycle)) - 1
        return self.rss_by_cycle[index]

    @property
    def growth(self) -> float:
        return (self.rss_by_cycle[-1] - self.warm_mb) / self.warm_mb * 100

    def summary(self) -> str:
        rate = self.polls / self.seconds if self.seconds else 0.0
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        after = self.rss_by_cycle[WARM_CYCLE - 1 :] or self.rss_by_cycle
        lines = [
            f"soak: {self.feeds} feeds x {self.cycles} cycles, {self.polls} polls in "
            f"{self.seconds:.0f} s ({rate:.0f} polls/s)",
            f"rss: cycle {WARM_CYCLE} {self.warm_mb:.1f} MB, end {self.rss_by_cycle[-1]:.1f} MB, "
            f"growth {self.growth:.1f}%, peak {self.peak_mb:.1f} MB",
            f"rss after cycle {WARM_CYCLE}: min {min(after):.1f} MB, max {max(after):.1f} MB; "
            f"every 20 cycles: {' '.join(f'{mb:.1f}' for mb in self.rss_by_cycle[19::20])}",
            f"polls: {statuses}; {self.new_stories} new stories, {self.alerts_queued} alerts "
            f"queued, {self.delivered} delivered",
            f"pruned: {self.pruned_stories} seen stories, {self.pruned_alerts} alerts; state "
            f"file {self.db_mb:.1f} MB",
            f"targets: peak < 150 MB {'ok' if self.peak_mb < 150 else 'MISSED'}, growth < 5% "
            f"{'ok' if self.growth < 5 else 'MISSED'}",
        ]
        if self.traced_mb:
            warm, end, peak = self.traced_mb
            lines.append(
                f"tracemalloc: cycle {WARM_CYCLE} {warm:.1f} MB, end {end:.1f} MB, growth "
                f"{(end - warm) / warm * 100:.1f}%, peak {peak:.1f} MB (Python allocations only)"
            )
        return "\n".join(lines + self.trace)


def memory_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"soak: no {key} in /proc/self/status")


# --- the feeds ----------------------------------------------------------------------------------


class FeedFiles:
    """One RSS file per feed in a directory the child FeedServer serves."""

    def __init__(self, folder: Path, feeds: int, items: int, rng: random.Random) -> None:
        self.folder = folder
        self.items: list[list[tuple[str, str, float]]] = [[] for _ in range(feeds)]
        self.keep = items
        self.rng = rng
        self._count = 0

    def advance(self, now: float, first: bool) -> None:
        """Give most feeds one new item (all of them `keep` on the first cycle) and rewrite them."""
        for number, items in enumerate(self.items):
            if not first and self.rng.random() >= CHANGE_RATE:
                continue  # unchanged: the next poll is answered 304
            for _ in range(self.keep if first else 1):
                items.insert(0, self._story(now))
            del items[self.keep :]
            self._write(number, items)

    def _story(self, now: float) -> tuple[str, str, float]:
        self._count += 1
        town = self.rng.choice(TOWNS)
        relevant = self.rng.random() < RELEVANT_RATE
        title = self.rng.choice(RELEVANT if relevant else FILLER).format(town=town)
        return f"s{self._count}", f"{title} (report {self._count})", now

    def _write(self, number: int, items: list[tuple[str, str, float]]) -> None:
        entries = "".join(
            f"<item><guid>{guid}</guid><title>{escape(title)}</title>"
            f"<link>https://news.example/{number}/{guid}</link>"
            f"<description>{escape(title)}. More to follow.</description>"
            f"<pubDate>{format_datetime(datetime.fromtimestamp(when, UTC))}</pubDate></item>"
            for guid, title, when in items
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {number}</title><link>https://news.example/{number}/</link>"
            f"<description>soak</description>{entries}</channel></rss>"
        )
        target = self.folder / f"f{number}.xml"
        temporary = target.with_suffix(".tmp")
        temporary.write_text(body, encoding="utf-8")
        os.replace(temporary, target)  # the server never reads half a file


def serve(directory: str) -> int:
    """The child process: a FeedServer on DIR that forgets the requests it has seen."""
    from tests.feedserver import FeedServer

    server = FeedServer()
    # Work around tests/feedserver.py answering keep-alive requests ~40 ms late: its handler
    # writes headers and body in two sends without TCP_NODELAY, so Nagle waits for the client's
    # delayed ACK. Real servers set TCP_NODELAY; without this the soak measures that wait.
    server._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    server.serve_directory(directory)
    with server:
        print(server.url("/"), flush=True)
        while True:  # the parent ends this process; `requests` would otherwise grow without end
            time.sleep(1.0)
            server.requests.clear()


def start_server(directory: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--serve", str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    base = process.stdout.readline().strip()
    if not base.startswith("http://"):
        process.kill()
        raise RuntimeError(f"soak: feed server did not start (said {base!r})")
    return process, base


# --- the bot ------------------------------------------------------------------------------------


def build(db: Path, urls: list[str], clock: Clock, out: io.StringIO) -> tuple[Runtime, Outbox]:
    """The Runtime and Outbox as bot/service/wiring.py builds them, with the compressed clock."""
    keep_large_blocks_out_of_heaps()
    config = load_config(ROOT / "config" / "newsbot.yaml")
    config = config.with_feeds([FeedSpec(url, None, config.defaults.interval) for url in urls])
    store = Store(db, clock=clock)
    defaults = config.defaults
    fetcher = Fetcher(
        FetchLimits(
            connect_timeout=defaults.connect_timeout,
            read_timeout=defaults.read_timeout,
            max_bytes=defaults.max_feed_bytes,
        )
    )
    metrics = Metrics()
    runtime = Runtime(
        config,
        Matcher(config.topics),
        store,
        fetcher,
        metrics,
        clock=clock,
    )
    outbox = Outbox(
        store,
        TerminalSender(out),
        metrics,
        pacer=ChannelPacer(rate=1000.0, burst=1000),
        clock=clock,
        sleep=lambda _: None,
    )
    return runtime, outbox


def soak(
    feeds: int = 1000,
    cycles: int = 200,
    *,
    workers: int = 8,
    items: int = 4,
    retention_hours: float = 6.0,
    seed: int = 1,
    trace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SoakResult:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="newsbot-soak-"))
    (folder / "feeds").mkdir()
    files = FeedFiles(folder / "feeds", feeds, items, rng)
    clock = Clock()
    out = io.StringIO()
    server, base = start_server(folder / "feeds")
    result = SoakResult(feeds, cycles)
    null = open(os.devnull, "w")  # noqa: SIM115 (closed in the finally below)
    setup_logging("text", "INFO", stream=null)
    runtime, outbox = build(
        folder / "state.db", [f"{base}f{n}.xml" for n in range(feeds)], clock, out
    )
    next_prune = clock.now + PRUNE_EVERY
    warm_snapshot: tracemalloc.Snapshot | None = None
    if trace:
        tracemalloc.start(5)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            for cycle in range(1, cycles + 1):
                files.advance(clock.now, first=cycle == 1)
                started = time.monotonic()
                outcomes = list(
                    pool.map(
                        lambda feed: poll_feed(runtime, feed, force=True), runtime.config.feeds
                    )
                )
                drained = outbox.drain()
                result.seconds += time.monotonic() - started
                tally(result, outcomes, drained.sent)
                out.seek(0)
                out.truncate()
                clock.now += CYCLE_SECONDS
                if clock.now >= next_prune:
                    seen, alerts = runtime.prune(retention_hours / 24)
                    result.pruned_stories += seen
                    result.pruned_alerts += alerts
                    next_prune += PRUNE_EVERY
                result.rss_by_cycle.append(memory_mb("VmRSS"))
                if trace and cycle == WARM_CYCLE:
                    warm_snapshot = tracemalloc.take_snapshot()
                    result.traced_mb.append(tracemalloc.get_traced_memory()[0] / 2**20)
                if progress is not None and cycle % 10 == 0:
                    progress(
                        f"cycle {cycle}: rss {result.rss_by_cycle[-1]:.1f} MB, "
                        f"{result.polls / result.seconds:.0f} polls/s"
                    )
        # VmHWM is the kernel's high-water mark; it can lag an RSS read by a few pages.
        result.peak_mb = max(memory_mb("VmHWM"), *result.rss_by_cycle)
        if warm_snapshot is not None:
            now, peak = tracemalloc.get_traced_memory()
            result.traced_mb += [now / 2**20, peak / 2**20]
            result.trace = top_growth(warm_snapshot, tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
        runtime.fetcher.close()
        runtime.store.close()
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()
        result.db_mb = sum(p.stat().st_size for p in folder.glob("state.db*")) / 2**20
        null.close()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def tally(result: SoakResult, outcomes: list[PollOutcome], delivered: int) -> None:
    result.polls += len(outcomes)
    for outcome in outcomes:
        result.statuses[outcome.status] = result.statuses.get(outcome.status, 0) + 1
        result.new_stories += outcome.new_stories
        result.alerts_queued += outcome.queued
    result.delivered += delivered


def top_growth(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, limit: int = 12
) -> list[str]:
    """The allocation sites that grew most between the two snapshots."""
    lines = [f"tracemalloc: top {limit} growth from cycle {WARM_CYCLE} to the end"]
    for stat in after.compare_to(before, "traceback")[:limit]:
        frame = stat.traceback[-1] if stat.traceback else None
        where = f"{frame.filename}:{frame.lineno}" if frame else "?"
        lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {where}")
        callers = list(stat.traceback)[:-1][-3:]  # oldest first: print the nearest caller first
        lines += [f"      <- {f.filename}:{f.lineno}" for f in reversed(callers)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8, help="poll threads (the service: 8)")
    parser.add_argument("--items", type=int, default=4, help="items per feed")
    parser.add_argument(
        "--retention-hours",
        type=float,
        default=6.0,
        help="retention for the hourly prune, in compressed hours",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trace", action="store_true", help="tracemalloc growth report")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    if args.cycles < WARM_CYCLE:
        parser.error(f"--cycles must be at least {WARM_CYCLE}")

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    result = soak(
        args.feeds,
        args.cycles,
        workers=args.workers,
        items=args.items,
        retention_hours=args.retention_hours,
        seed=args.seed,
        trace=args.trace,
        progress=None if args.quiet else progress,
    )
    print(result.summary())
    return 0 if result.peak_mb < 150 and result.growth < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
