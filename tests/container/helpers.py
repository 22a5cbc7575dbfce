"""Helpers for tests/container/run.sh: test feeds, and what the Slack stand-in and /metrics show.

Standard library only: it runs on the host with whatever python3 is there.

    python3 helpers.py free-port
    python3 helpers.py write-feeds DIR --phase 1|2     # writes a.xml, b.xml and expected.json
    python3 helpers.py wait-messages STUB_BASE --count N [--timeout S]
    python3 helpers.py check-messages STUB_BASE DIR/expected.json
    python3 helpers.py wait-metrics METRICS_URL --polls N [--timeout S]
    python3 helpers.py check-logs LOGFILE --secret TOKEN

Each check prints one line saying what it found and exits 0 (as expected) or 1.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

SITE = "https://news.example.com/2026"

# (feed file, slug, title, summary, relevant to the shipped facial-recognition-policy topic)
STORIES = {
    1: [
        (
            "a.xml",
            "council-bans-face-recognition",
            "City council votes to ban facial recognition by police",
            "The council approved an ordinance that prohibits city agencies, including the "
            "police department, from using facial recognition technology.",
            True,
        ),
        (
            "a.xml",
            "bakery-award",
            "Local bakery wins national bread award",
            "A family bakery on Main Street took first prize for its sourdough.",
            False,
        ),
        (
            "a.xml",
            "moratorium-schools",
            "Lawmakers pass moratorium on facial recognition in schools",
            "The state senate passed a bill that pauses the use of facial recognition systems "
            "in public schools for three years.",
            True,
        ),
        (
            "b.xml",
            "regulator-fines-retailer",
            "Data protection regulator fines retailer over facial recognition cameras",
            "The watchdog said the chain's use of facial recognition in its stores was unlawful.",
            True,
        ),
        (
            "b.xml",
            "phone-face-unlock",
            "Budget phone gets face unlock and a bigger battery",
            "The new model adds face unlock; reviewers praised the screen.",
            False,
        ),
    ],
}
STORIES[2] = [
    *STORIES[1],
    (
        "a.xml",
        "court-blocks-live-facial-recognition",
        "Court blocks police use of live facial recognition",
        "A judge issued an injunction halting the force's live facial recognition trial.",
        True,
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss(title: str, items: list[tuple[str, str, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(url)}</link>"
        f"<guid isPermaLink='true'>{escape(url)}</guid><description>{escape(s)}</description>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for url, t, s, when in items
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{escape(title)}</title><link>https://news.example.com/</link>"
        f"<description>container test feed</description>{entries}</channel></rss>"
    )


def write_feeds(directory: Path, phase: int) -> None:
    """Stories dated minutes ago: inside the shipped backfill window, so a new feed alerts.

    Phase 2 keeps phase 1's stories and their dates (read back from expected.json) and adds one.
    """
    expected_file = directory / "expected.json"
    now = datetime.now(UTC).replace(microsecond=0)
    base = now - timedelta(minutes=30)
    if phase == 2:
        base = datetime.fromisoformat(json.loads(expected_file.read_text())["base"])
    feeds: dict[str, list[tuple[str, str, str, datetime]]] = {"a.xml": [], "b.xml": []}
    expected: dict[str, Any] = {"base": base.isoformat(), "relevant": [], "irrelevant": []}
    for index, (feed, slug, title, summary, relevant) in enumerate(STORIES[phase]):
        url = f"{SITE}/{slug}"
        when = base + timedelta(minutes=index) if index < len(STORIES[1]) else now
        feeds[feed].insert(0, (url, title, summary, when))  # newest first, like most feeds
        expected["relevant" if relevant else "irrelevant"].append(url)
    for name, items in feeds.items():
        (directory / name).write_text(rss(f"Container Test News {name}", items), encoding="utf-8")
    expected_file.write_text(json.dumps(expected, indent=2), encoding="utf-8")


def get_json(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return json.loads(response.read())


def messages(stub_base: str) -> list[dict[str, Any]]:
    data = get_json(f"{stub_base.rstrip('/')}/_stub/messages")
    return list(data["messages"] if isinstance(data, dict) else data)


def wait_messages(stub_base: str, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    found = -1
    while time.monotonic() < deadline:
        found = len(messages(stub_base))
        if found >= count:
            print(f"{found} message(s) posted")
            return 0
        time.sleep(0.5)
    print(f"{found} message(s) posted after {timeout:.0f} s, expected {count}")
    return 1


def check_messages(stub_base: str, expected_file: Path) -> int:
    """Each relevant story posted exactly once per channel, nothing irrelevant, nothing else."""
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    posted = messages(stub_base)
    per_story: Counter[tuple[str, str]] = Counter()
    unknown = 0
    for message in posted:
        channel = str(message.get("channel_name") or message.get("channel"))
        dump = json.dumps(message)
        urls = [url for url in expected["relevant"] + expected["irrelevant"] if url in dump]
        unknown += not urls
        per_story.update((channel, url) for url in urls)
    problems = []
    for url in expected["relevant"]:
        counts = [n for (_, u), n in per_story.items() if u == url]
        if not counts:
            problems.append(f"not posted: {url}")
        elif max(counts) > 1:
            problems.append(f"posted {max(counts)} times to one channel: {url}")
    problems += [
        f"irrelevant story posted: {url}" for (_, url) in per_story if url in expected["irrelevant"]
    ]
    if unknown:
        problems.append(f"{unknown} message(s) about no expected story")
    channels = sorted({channel for channel, _ in per_story})
    summary = (
        f"{len(posted)} message(s) in {channels} for {len(expected['relevant'])} relevant stories"
    )
    if problems:
        print(f"{summary}; " + "; ".join(problems))
        return 1
    print(f"{summary}; each relevant story exactly once, no irrelevant one")
    return 0


def scrape(url: str) -> dict[str, float]:
    """Each newsbot_ metric by name, its labelled series summed (timestamps: the latest)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("newsbot_"):
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            if name.endswith("_timestamp_seconds"):  # the latest, not a sum of times
                totals[name] = max(totals.get(name, 0.0), float(value))
            else:
                totals[name] = totals.get(name, 0.0) + float(value)
    return totals


def wait_metrics(url: str, polls: int, timeout: float) -> int:
    """Until this process has polled `polls` times and its outbox is empty."""
    deadline = time.monotonic() + timeout
    totals: dict[str, float] = {}
    while time.monotonic() < deadline:
        try:
            totals = scrape(url)
        except OSError:
            totals = {}
        polled = totals.get("newsbot_feeds_polled_total", 0.0)
        if polled >= polls and totals.get("newsbot_outbox_depth", 1.0) == 0.0:
            break
        time.sleep(0.5)
    shown = {k: v for k, v in sorted(totals.items()) if not k.endswith(("_bucket", "_created"))}
    print(" ".join(f"{k}={v:g}" for k, v in shown.items()) or "no newsbot_ metrics")
    ok = totals.get("newsbot_feeds_polled_total", 0.0) >= polls
    return 0 if ok and totals.get("newsbot_outbox_depth") == 0.0 else 1


def check_logs(logfile: Path, secret: str) -> int:
    lines = [line for line in logfile.read_text(errors="replace").splitlines() if line.strip()]
    not_json = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    leaked = sum(secret in line for line in lines)
    found = f"{len(lines)} log line(s), {len(not_json)} not JSON, token shown {leaked} time(s)"
    if not_json:
        found += f"; first non-JSON line: {not_json[0][:160]!r}"
    print(found)
    return 0 if lines and not not_json and not leaked else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpers.py")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("free-port")
    p = sub.add_parser("write-feeds")
    p.add_argument("directory", type=Path)
    p.add_argument("--phase", type=int, choices=(1, 2), default=1)
    p = sub.add_parser("wait-messages")
    p.add_argument("stub")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("check-messages")
    p.add_argument("stub")
    p.add_argument("expected", type=Path)
    p = sub.add_parser("wait-metrics")
    p.add_argument("url")
    p.add_argument("--polls", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("check-logs")
    p.add_argument("logfile", type=Path)
    p.add_argument("--secret", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "free-port":
            print(free_port())
            return 0
        if args.command == "write-feeds":
            write_feeds(args.directory, args.phase)
            return 0
        if args.command == "wait-messages":
            return wait_messages(args.stub, args.count, args.timeout)
        if args.command == "check-messages":
            return check_messages(args.stub, args.expected)
        if args.command == "wait-metrics":
            return wait_metrics(args.url, args.polls, args.timeout)
        return check_logs(args.logfile, args.secret)
    except OSError as exc:
        print(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
