"""Replicas benchmark: N feeds polled by three `newsbot run` replicas on one PostgreSQL database,
against one replica on SQLite, in the same run.

    python -m bench.replicas [--feeds 6000] [--replicas 3] [--interval 60] [--seconds 150]

Set-up (all on 127.0.0.1): tests/feedserver.py serves --feeds small RSS feeds (ETag and
Last-Modified, so after its first poll a feed answers 304); tests/pgserver.py starts a real
PostgreSQL server in a temporary directory. The config polls every feed each --interval seconds
(jitter 10 s), its topic matches nothing in the feeds (the polling is measured, not Slack).

For each setup the replicas run for --seconds; the first --interval seconds are warm-up (every
feed's first poll), the rest is the measured window. Reported per setup:
- polls/s: requests the feed server answered in the window, per second (the config asks for
  feeds / interval);
- each replica's CPU (user + system, from /proc/<pid>/stat) as a share of one core;
- the database's CPU, the same way over every postgres process (PostgreSQL only);
- connections: the most pg_stat_activity rows of the database seen in the window;
- feed leases held by each replica at the end (PostgreSQL only).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/replicas.py` as well as `python -m bench.replicas`
    sys.path.insert(0, str(ROOT))

from tests.feedserver import FeedServer  # noqa: E402
from tests.helpers import Item, clean_env, free_port, rss, write_config  # noqa: E402
from tests.pgserver import PgServer, find_bin_dir  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
TOPIC = """\
- name: quiet
  channels: ["#quiet"]
  threshold: 30
  query: '"zzqx unmatched phrase"'
"""


@dataclass
class Setup:
    name: str
    polls_per_s: float = 0.0
    replica_cpu: list[float] = field(default_factory=list)  # share of one core, each
    db_cpu: float | None = None
    connections: int | None = None
    feed_leases: list[int] = field(default_factory=list)
    per_feed: tuple[int, int] = (0, 0)  # fewest and most polls of one feed in the window

    def line(self) -> str:
        cpu = " ".join(f"{share:.0%}" for share in self.replica_cpu)
        low, high = self.per_feed
        text = (
            f"{self.name:28} {self.polls_per_s:7.1f} polls/s (per feed {low}-{high})  "
            f"replica CPU {cpu}"
        )
        if self.db_cpu is not None:
            text += f"  database CPU {self.db_cpu:.0%}  connections {self.connections}"
        if self.feed_leases:
            text += f"  feeds held {'/'.join(map(str, self.feed_leases))}"
        return text


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and its children (backends, writer, checkpointer ...)."""
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                pids.append(int(entry.name))
    return pids


def db_cpu_seconds(postmaster: int) -> float:
    """CPU of the postgres processes alive now (ended backends' time is lost: the replicas hold
    theirs for the whole run)."""
    return sum(cpu_seconds(pid) for pid in postgres_pids(postmaster))


def connections(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


def feed_leases(url: str) -> list[int]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT holder, count(*) FROM leases WHERE name LIKE 'feed:%' GROUP BY holder "
            "ORDER BY holder"
        ).fetchall()
    return [int(row[1]) for row in rows]


def serve_feeds(server: FeedServer, feeds: int) -> list[str]:
    item = Item("a1", "Harbour ferry timetable changes next week", "Routine notice.", hours_ago=2)
    body = rss([item])
    paths = [f"/f{n}.xml" for n in range(feeds)]
    for path in paths:
        server.set_feed(path, body)
    return [server.url(path) for path in paths]


def total_requests(server: FeedServer) -> int:
    """Requests the feed server has answered (every one is a poll of a feed)."""
    return len(server.requests)


def polls_per_feed(server: FeedServer, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for seen in server.requests[since:]:
        counts[seen.path] = counts.get(seen.path, 0) + 1
    return counts


def run_setup(
    name: str,
    db: str,
    replicas: int,
    args: argparse.Namespace,
    server: FeedServer,
    folder: Path,
    pg: PgServer | None,
) -> Setup:
    config = write_config(
        folder / name,
        topics=TOPIC,
        extra_defaults="  allow_private_networks: true\n",
    )
    text = config.read_text().replace("interval: 60", f"interval: {args.interval}")
    config.write_text(text.replace("jitter: 0", "jitter: 10"))
    feeds = folder / name / "feeds.txt"
    feeds.write_text("\n".join(serve_feeds(server, args.feeds)) + "\n")
    env = clean_env({"NEWSBOT_DB": db, "NEWSBOT_LOG_LEVEL": "WARNING"})
    processes = []
    for n in range(replicas):
        port = str(free_port())
        log = (folder / f"{name}-{n}.log").open("w")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    "--config",
                    str(config),
                    "--feeds",
                    str(feeds),
                ],
                cwd=ROOT,
                env={**env, "NEWSBOT_HTTP_PORT": port},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    result = Setup(name)
    try:
        time.sleep(args.interval)  # warm-up: every feed's first poll
        window = args.seconds - args.interval
        polls0 = total_requests(server)
        cpu0 = [cpu_seconds(p.pid) for p in processes]
        postmaster = pg.postmaster_pid() if pg else None
        db0 = db_cpu_seconds(postmaster) if postmaster else 0.0
        most = 0
        started = time.monotonic()
        while time.monotonic() - started < window:
            time.sleep(5)
            if pg is not None:
                most = max(most, connections(db))
        elapsed = time.monotonic() - started
        result.polls_per_s = (total_requests(server) - polls0) / elapsed
        per_feed = polls_per_feed(server, polls0)
        result.per_feed = (
            min(per_feed.values(), default=0) if len(per_feed) == args.feeds else 0,
            max(per_feed.values(), default=0),
        )
        result.replica_cpu = [
            (cpu_seconds(p.pid) - before) / elapsed
            for p, before in zip(processes, cpu0, strict=True)
        ]
        if postmaster:
            result.db_cpu = (db_cpu_seconds(postmaster) - db0) / elapsed
            result.connections = most
            result.feed_leases = feed_leases(db)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=6000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=150)
    args = parser.parse_args(argv)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("no PostgreSQL server binaries found (apt-get install postgresql)", file=sys.stderr)
        return 2
    print(
        f"{args.feeds} feeds, interval {args.interval} s (asks {args.feeds / args.interval:.0f} "
        f"polls/s), {args.seconds} s per setup, first {args.interval} s warm-up; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    pg = PgServer(bin_dir)
    pg.start()
    try:
        with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = pg.create_database()
            results = [
                run_setup(
                    f"{args.replicas} replicas, PostgreSQL",
                    url,
                    args.replicas,
                    args,
                    server,
                    folder,
                    pg,
                ),
                run_setup(
                    "1 replica, SQLite", str(folder / "state.db"), 1, args, server, folder, None
                ),
            ]
            for result in results:
                print(result.line(), flush=True)
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
