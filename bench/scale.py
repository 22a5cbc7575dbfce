"""Scale benchmark: the real `newsbot run --once` process on 100 / 1,000 / 6,000 local feeds.

    python -m bench.scale [--feeds 100 1000 6000] [--items 5] [--baseline-root DIR] [--json FILE]

For each feed count, three runs of `newsbot run --once` on one state database, each a fresh
process measured with wait4 (user + system CPU), its own peak RSS (VmHWM) and a wall clock:
- first: every feed is new (its first poll: stories of the last 24 h alert);
- posting: every feed has --items new stories (its later polls): alerts are clustered, queued
  and delivered;
- 304: nothing changed: every poll is a conditional GET answered 304 Not Modified; this run is
  pinned to one core (`taskset -c 0`, when taskset exists).
Every run posts to the Slack stand-in (tests/slackstub.py, in this process: its CPU is not
newsbot's) through the real slack_sdk client, with no rate limit on the stand-in and newsbot's
per-channel pacer set so it never waits (`ChannelPacer`'s defaults raised by the runner below,
for both checkouts): at Slack's 1 message per second per channel the posting run's wall clock
would be the pacer's, and sleeping costs no CPU anyway. Reported: CPU ms per feed, CPU ms per
alert delivered (runs that deliver), wall s, peak RSS MB, alerts delivered, and the store's lock
waits (count and seconds, from the run's `store lock waits` log line; "-" for code without it).

The feeds come from tests/feedserver.py (ETag / Last-Modified) in this process; their stories
are the labelled news of tests/data/relevance/*.jsonl (relevant and irrelevant in the dev
set's ratio), dated now, with URLs unique per feed and run. The shipped config (config/) is
used with `allow_private_networks: true` (the feeds are on 127.0.0.1).

--baseline-root DIR runs the same harness against another checkout (e.g. a `git worktree add`
of the pre-change commit) with this venv's interpreter and libraries, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

from tests.feedserver import FeedServer
from tests.slackstub import SlackStub

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "relevance"
# Runs `python -m bot ARGS` from the checkout given first, not this venv's editable install.
RUNNER = (
    "import runpy, sys\n"
    "root = sys.argv.pop(1)\n"
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
    "sys.path.insert(0, root)\n"
    "try:\n"
    "    from bot.alerts.pacing import ChannelPacer\n"
    "except ImportError:  # the flat layout before issue 12\n"
    "    from bot.pacing import ChannelPacer\n"
    "ChannelPacer.__init__.__defaults__ = (10000.0, 10000)  # never waits\n"
    "import atexit\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        for line in status:\n"
    "            if line.startswith('VmHWM:'):\n"
    "                sys.stderr.write('NEWSBOT_PEAK_RSS_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(peak)\n"
    "runpy.run_module('bot', run_name='__main__', alter_sys=True)\n"
)
PIN = ["taskset", "-c", "0"] if shutil.which("taskset") else []


def _stories() -> list[dict[str, str]]:
    found = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                found.append({"title": raw["title"], "summary": raw.get("summary") or ""})
    return found


def _rss(feed: int, run: str, items: int, stories: list[dict[str, str]]) -> bytes:
    now = format_datetime(datetime.now(UTC), usegmt=True)
    parts = []
    for k in range(items):
        story = stories[(feed * items + k + zlib.crc32(run.encode()) % 97) % len(stories)]
        url = f"https://news{feed % 50}.example/{run}/{feed}/{k}"
        parts.append(
            f"<item><title>{escape(story['title'])}</title><link>{url}</link>"
            f"<guid>{url}</guid><pubDate>{now}</pubDate>"
            f"<description>{escape(story['summary'])}</description></item>"
        )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
    return (body + "".join(parts) + "</channel></rss>").encode()


def _config(folder: Path) -> Path:
    for name in ("newsbot.yaml", "topics.yaml"):
        (folder / name).write_text((ROOT / "config" / name).read_text(encoding="utf-8"))
    meaning = ROOT / "config" / "meaning"
    if meaning.is_dir():
        (folder / "meaning").symlink_to(meaning)
    path = folder / "newsbot.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["defaults"]["allow_private_networks"] = True
    config["defaults"]["jitter"] = 0
    config.pop("feeds", None)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _lock_waits(log: Path) -> tuple[int, float] | None:
    """The last run's `store lock waits` line (JSON log), or None when the code has none."""
    found = None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"store lock waits"' in line:
            entry = json.loads(line)
            found = (int(entry["waits"]), float(entry["wait_s"]))
    return found


def _peak_rss_mb(log: Path) -> float | None:
    """newsbot's own peak RSS (VmHWM, written by the runner as it exits): wait4's ru_maxrss also
    counts the copy of this harness that the child was before it exec'd, so it grows with the
    feed server's and the Slack stand-in's memory, not newsbot's."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("NEWSBOT_PEAK_RSS_KB "):
            return int(line.split()[1]) / 1024
    return None


def _run_once(
    root: Path, config: Path, feeds: Path, db: Path, log: Path, slack: SlackStub, *, pin: bool
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update({"NEWSBOT_DB": str(db), "NEWSBOT_HTTP_PORT": "0", "NEWSBOT_LOG_FORMAT": "json"})
    env.update({"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url})
    command = [*(PIN if pin else []), sys.executable, "-c", RUNNER, str(root), "run", "--once"]
    command += ["--config", str(config), "--feeds", str(feeds)]
    log.write_text("", encoding="utf-8")
    posted = len(slack.messages)
    started = time.perf_counter()
    with open(log, "a", encoding="utf-8") as err:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    waits = _lock_waits(log)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": wall,
        "peak_rss_mb": _peak_rss_mb(log) or usage.ru_maxrss / 1024,
        "alerts": len(slack.messages) - posted,
        "lock_waits": waits[0] if waits else None,
        "lock_wait_s": waits[1] if waits else None,
        "exit": os.waitstatus_to_exitcode(status),
    }


def measure(
    root: Path,
    feeds: int,
    items: int,
    server: FeedServer,
    slack: SlackStub,
    done: Callable[[str, dict[str, Any]], None] = lambda run, row: None,
) -> dict[str, Any]:
    stories = _stories()
    with tempfile.TemporaryDirectory(prefix="newsbot-scale-") as tmp:
        folder = Path(tmp)
        config = _config(folder)
        db, log = folder / "state.db", folder / "newsbot.log"
        prefix = f"/{root.name}-{feeds}-{time.time_ns()}"
        urls = [server.url(f"{prefix}/{n}.xml") for n in range(feeds)]
        (folder / "feeds.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
        runs: dict[str, Any] = {}
        for name in ("first", "posting", "304"):
            if name != "304":
                for n in range(feeds):
                    server.set_feed(f"{prefix}/{n}.xml", _rss(n, f"{name}", items, stories))
            row = _run_once(root, config, folder / "feeds.txt", db, log, slack, pin=name == "304")
            alerts = row["alerts"]
            row["cpu_ms_per_feed"] = round(row["cpu_s"] * 1000 / feeds, 2)
            row["cpu_ms_per_alert"] = round(row["cpu_s"] * 1000 / alerts, 2) if alerts else None
            row["pinned"] = bool(PIN) and name == "304"
            runs[name] = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
            done(name, runs[name])  # each run as it ends: a long baseline run shows progress
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, nargs="+", default=[100, 1000, 6000])
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--baseline-root", type=Path)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    roots = [("after", ROOT)] + ([("before", args.baseline_root)] if args.baseline_root else [])
    results: list[dict[str, Any]] = []
    with FeedServer() as server, SlackStub() as slack:
        for feeds in args.feeds:
            for label, root in roots:

                def done(
                    run: str, row: dict[str, Any], label: str = label, feeds: int = feeds
                ) -> None:
                    results.append({"code": label, "feeds": feeds, "run": run, **row})
                    print(_line(results[-1]), flush=True)

                measure(root, feeds, args.items, server, slack, done)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def _line(row: dict[str, Any]) -> str:
    per_alert = row["cpu_ms_per_alert"]
    waits = "-" if row["lock_waits"] is None else f"{row['lock_waits']} / {row['lock_wait_s']} s"
    return (
        f"{row['code']:<7} {row['feeds']:>6} feeds {row['run']:<8} "
        f"cpu {row['cpu_s']:>8.2f} s  {row['cpu_ms_per_feed']:>7.2f} ms/feed  "
        f"{'-' if per_alert is None else per_alert:>7} ms/alert ({row['alerts']} delivered)  "
        f"wall {row['wall_s']:>7.2f} s  peak {row['peak_rss_mb']:>6.1f} MB  "
        f"lock waits {waits}  exit {row['exit']}{'  (1 core)' if row['pinned'] else ''}"
    )


if __name__ == "__main__":
    sys.exit(main())
