"""Start-up benchmark: `newsbot --help`, and `newsbot run` from spawn to its first poll.

    python -m bench.startup [--repeat 5] [--baseline-root DIR] [--json FILE]

- help: `newsbot --help`, the whole process (wait4: user + system CPU, peak RSS, wall);
- first poll: `newsbot run` (the service) with the shipped config on one local feed
  (tests/feedserver.py) and the Slack stand-in (tests/slackstub.py, so the start-up's Slack
  check is made): wall clock from spawn to its `polled` log line, and the process' CPU
  (/proc/PID/stat) and RSS (/proc/PID/status) at that moment; then SIGTERM.
Each figure is the median of --repeat processes. --baseline-root DIR measures another checkout
(e.g. a `git worktree add` of the pre-change commit) with the same harness, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scale import ROOT, RUNNER, _config, _rss, _stories
from tests.feedserver import FeedServer
from tests.slackstub import SlackStub

TICKS = os.sysconf("SC_CLK_TCK")


def _env(db: Path, slack: SlackStub | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update({"NEWSBOT_DB": str(db), "NEWSBOT_HTTP_PORT": "0", "NEWSBOT_LOG_FORMAT": "json"})
    if slack is not None:
        env.update({"SLACK_BOT_TOKEN": slack.token, "SLACK_API_URL": slack.api_url})
    return env


def help_once(root: Path, db: Path) -> dict[str, float]:
    started = time.perf_counter()
    command = [sys.executable, "-c", RUNNER, str(root), "--help"]
    process = subprocess.Popen(command, cwd=root, env=_env(db, None), stdout=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": time.perf_counter() - started,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def _cpu_and_rss(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return cpu, int(rss.split()[1]) / 1024


def first_poll_once(root: Path, folder: Path, config: Path, slack: SlackStub) -> dict[str, float]:
    db = folder / f"state-{time.time_ns()}.db"
    command = [sys.executable, "-c", RUNNER, str(root), "run", "--config", str(config)]
    command += ["--feeds", str(folder / "feeds.txt")]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=root,
        env=_env(db, slack),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("{") and json.loads(line).get("event") == "polled":
                wall = time.perf_counter() - started
                cpu, rss = _cpu_and_rss(process.pid)
                return {"cpu_s": cpu, "wall_s": wall, "rss_mb": rss}
        raise RuntimeError(f"newsbot run ended without polling (exit {process.wait()})")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(row[key] for row in rows), 3) for key in rows[0]}


def measure(root: Path, repeat: int, server: FeedServer, slack: SlackStub) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsbot-startup-") as tmp:
        folder = Path(tmp)
        config = _config(folder)
        path = f"/startup-{time.time_ns()}.xml"
        server.set_feed(path, _rss(0, "startup", 5, _stories()))
        (folder / "feeds.txt").write_text(server.url(path) + "\n", encoding="utf-8")
        helps = [help_once(root, folder / "help.db") for _ in range(repeat)]
        polls = [first_poll_once(root, folder, config, slack) for _ in range(repeat)]
    return {"help": _median(helps), "first_poll": _median(polls)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-root", type=Path)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    roots = [("after", ROOT)] + ([("before", args.baseline_root)] if args.baseline_root else [])
    results = []
    with FeedServer() as server, SlackStub() as slack:
        for label, root in roots:
            found = measure(root, args.repeat, server, slack)
            for name, row in found.items():
                results.append({"code": label, "what": name, **row})
                print(
                    f"{label:<7} {name:<11} cpu {row['cpu_s']:.3f} s  wall {row['wall_s']:.3f} s"
                    f"  rss {row['rss_mb']:.1f} MB",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
