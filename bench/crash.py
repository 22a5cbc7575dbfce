"""Crash test: SIGKILL the real newsbot again and again; nothing may be lost or posted twice.

    python -m bench.crash [--kills 20] [--seed 7] [--no-history-faults] [--keep]

Set-up (all on 127.0.0.1): an in-process FeedServer with --feeds feeds and a SlackStub (no rate
limit), a temp config with one topic per "desk" (north, south, east, west, central), each routed
to its own channel, so the bot's per-channel pacing (about 1 post/s, bursts of 3) drains five
channels at once. Every story carries a unique tag, "(r12)" for a relevant one, "(i5)" for one no
topic matches, so each Slack message is attributed to exactly one story. About a quarter of the
relevant stories are another outlet's report of an earlier event (same town, same desk): those
the bot may fold into the first alert's thread, still one message each.

Loop, until --kills SIGKILLs have hit a live process:
  1. new stories arrive in random feeds (relevant and irrelevant; the feeds keep all their items);
  2. sometimes Slack is told to misbehave on the next chat.postMessage: HTTP 500 (not recorded),
     a dropped connection after recording it, an answer delayed past the kill (recorded), or 429;
     and half of those times also an HTTP 500 on the next conversations.history (the lookup
     that decides whether a post of unknown outcome must be sent again);
  3. `python -m bot run` (the service) or `python -m bot run --once` starts on the same state file;
  4. after it first asks the feed server for something (or, now and then, straight after start,
     to hit start-up too) a random 0.05-1.5 s passes, then SIGKILL.
Then clean `run --once` passes deliver the rest, and the messages are counted by story tag and by
the alert id in their metadata: expected relevant stories, delivered, lost (never posted),
duplicated (posted more than once), unexpected (an irrelevant story or an unknown message posted).

The config sets `backfill_hours: 48` so every story stays inside the first-poll window however
long a loaded machine takes (a feed's first committed poll may come late in the run: a crash
can undo any number of them). Exit status 1 when anything is lost or duplicated.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/crash.py` as well as `python -m bench.crash`
    sys.path.insert(0, str(ROOT))

from tests.feedserver import FeedServer  # noqa: E402
from tests.helpers import Item, rss, write_config, write_feed_list  # noqa: E402
from tests.slackstub import SlackStub  # noqa: E402

DESKS = ("north", "south", "east", "west", "central")
SYLLABLES = (
    "ash",
    "bel",
    "cor",
    "dun",
    "el",
    "fen",
    "gar",
    "hol",
    "ing",
    "kel",
    "lor",
    "mar",
    "nor",
    "ost",
    "pen",
    "quar",
    "ros",
    "sal",
    "tor",
    "ul",
    "ven",
    "wyn",
    "yar",
    "zel",
)
ENDINGS = ("ford", "ham", "by", "stead", "wick", "ton", "mere", "dale", "port", "brook")
RELEVANT_TITLES = (
    "{desk} desk: {town} council bans facial recognition ({tag})",
    "{desk} desk: {town} votes moratorium on face recognition by police ({tag})",
    "{desk} desk: {town} face recognition ban approved by mayor ({tag})",
)
IRRELEVANT_TITLES = (
    "{desk} desk: {town} phone maker adds facial recognition unlock ({tag})",
    "{desk} desk: {town} council bans plastic bags ({tag})",
    "{desk} desk: {town} opens a new library ({tag})",
)
TAG = re.compile(r"\(([ri]\d+)\)")
FOLLOW_UP_RATE = 0.25  # relevant stories that are another report of an earlier event
FAULTS = ("http_500", "drop", "delay", "ratelimited")
KILL_WINDOW = (0.05, 1.5)
START_TIMEOUT = 15.0  # seconds to wait for a fresh process's first feed request
FINAL_PASSES = 8


def topics_yaml() -> str:
    """One topic per desk: the desk word (exact) AND the technology AND a policy action."""
    return "".join(
        f'- name: frt-{desk}\n  channels: ["#frt-{desk}"]\n  threshold: 30\n  query: |\n'
        f'    ("facial recognition" OR "face recognition") AND (ban* OR moratorium)'
        f" AND {desk}~0 -unlock\n"
        for desk in DESKS
    )


@dataclass
class CrashResult:
    kills: int
    seed: int
    lives: int = 0
    clean_exits: int = 0
    early_kills: int = 0  # SIGKILLs aimed at start-up rather than at a busy cycle
    faults: Counter[str] = field(default_factory=Counter)
    expected: int = 0
    delivered: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicate_ids: int = 0  # alert ids seen in more than one message
    replies: int = 0
    messages: int = 0
    elapsed: float = 0.0
    final_passes: int = 0
    workdir: str = ""

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.duplicate_ids

    def summary(self) -> str:
        faults = ", ".join(f"{kind} {self.faults[kind]}" for kind in sorted(self.faults)) or "none"
        lines = [
            f"crash test: {self.kills} SIGKILLs, seed {self.seed}",
            f"stories expected {self.expected}, delivered {self.delivered}, lost "
            f"{len(self.lost)}, duplicated {len(self.duplicated)}, unexpected "
            f"{len(self.unexpected)}",
            f"messages {self.messages} ({self.replies} thread replies), alert ids posted twice "
            f"{self.duplicate_ids}",
            f"lives {self.lives} (killed {self.kills}, {self.early_kills} of them during "
            f"start-up; {self.clean_exits} ended by themselves), final clean passes "
            f"{self.final_passes}",
            f"slack faults injected: {faults}",
            f"elapsed {self.elapsed:.1f} s",
        ]
        if self.lost:
            lines.append(f"LOST: {' '.join(self.lost)}")
        if self.duplicated:
            lines.append(f"DUPLICATED: {' '.join(self.duplicated)}")
        if self.unexpected:
            lines.append(f"UNEXPECTED: {' '.join(self.unexpected)}")
        if not self.ok:
            lines.append(f"logs of every run: {self.workdir}/logs")
        return "\n".join(lines)


class Newsroom:
    """The feeds' contents: stories arrive in rounds; every story is remembered by its tag."""

    def __init__(self, server: FeedServer, feeds: int, rng: random.Random) -> None:
        self.server = server
        self.paths = [f"/feed{n}.xml" for n in range(feeds)]
        self.items: dict[str, list[Item]] = {path: [] for path in self.paths}
        self.relevant: dict[str, str] = {}  # tag -> desk
        self.irrelevant: set[str] = set()
        self.events: list[tuple[str, str, str]] = []  # (desk, town, title template) reported
        self.rng = rng
        self._count = 0

    def urls(self) -> list[str]:
        return [self.server.url(path) for path in self.paths]

    def add_round(self, relevant: int, irrelevant: int) -> None:
        touched = set()
        for is_relevant in [True] * relevant + [False] * irrelevant:
            path = self.rng.choice(self.paths)
            self.items[path].insert(0, self._story(path, is_relevant))
            touched.add(path)
        for path in self.paths:  # untouched feeds keep their body, so they answer 304
            if path in touched or self.server.count(path) == 0:
                self.server.set_feed(path, rss(self.items[path], f"Outlet {path[1:-4]}"))

    def _story(self, path: str, relevant: bool) -> Item:
        self._count += 1
        n, desk = self._count, self.rng.choice(DESKS)
        town = town_name(n)
        tag = f"r{n}" if relevant else f"i{n}"
        template = self.rng.choice(RELEVANT_TITLES if relevant else IRRELEVANT_TITLES)
        if relevant and self.events and self.rng.random() < FOLLOW_UP_RATE:
            desk, town, template = self.rng.choice(self.events)  # another outlet's report
            template = template.replace(" ({tag})", ", officials confirm ({tag})")
        elif relevant:
            self.events.append((desk, town, template))
        title = template.format(desk=desk.title(), town=town, tag=tag)
        if relevant:
            self.relevant[tag] = desk
        else:
            self.irrelevant.add(tag)
        return Item(
            tag,
            title,
            f"{town} officials spoke on the record ({tag}).",
            link=f"https://news.example{path[:-4]}/{tag}",
            hours_ago=0.1,
        )


def town_name(n: int) -> str:
    first = SYLLABLES[n % len(SYLLABLES)]
    middle = SYLLABLES[(n // len(SYLLABLES)) % len(SYLLABLES)]
    return (first + middle + ENDINGS[n % len(ENDINGS)]).title()


def bot_env(db: Path, stub: SlackStub) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update(
        {
            "NEWSBOT_DB": str(db),
            "SLACK_BOT_TOKEN": stub.token,
            "SLACK_API_URL": stub.api_url,
            "NEWSBOT_HTTP_PORT": "0",
        }
    )
    return env


def bot_command(config: Path, feeds: Path, *, once: bool) -> list[str]:
    command = [sys.executable, "-m", "bot", "run", "--config", str(config), "--feeds", str(feeds)]
    return [*command, "--once"] if once else command


def inject_fault(
    stub: SlackStub, rng: random.Random, result: CrashResult, history_faults: bool
) -> None:
    kind = rng.choice(FAULTS)
    if kind == "http_500":
        stub.fail_next("chat.postMessage", status=500)  # not recorded: Slack did not take it
    elif kind == "drop":
        stub.fail_next("chat.postMessage", drop=True)  # recorded, then the connection drops
    elif kind == "delay":
        stub.fail_next("chat.postMessage", delay=3.0)  # recorded; the answer comes after the kill
    else:
        stub.fail_next("chat.postMessage", status=429, retry_after=1)
    result.faults[kind] += 1
    if history_faults and rng.random() < 0.5:
        stub.fail_next("conversations.history", status=500)
        result.faults["history_500"] += 1


def one_life(
    command: list[str], env: dict[str, str], log: TextIO, server: FeedServer, rng: random.Random
) -> tuple[bool, bool]:
    """Start newsbot, SIGKILL it at a random moment; returns (killed, aimed at start-up)."""
    early = rng.random() < 0.2
    seen = len(server.requests)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
    )
    try:
        if not early:
            deadline = time.monotonic() + START_TIMEOUT
            while len(server.requests) == seen and process.poll() is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("crash test: newsbot never polled a feed; see its log")
                time.sleep(0.01)
        time.sleep(rng.uniform(*KILL_WINDOW))
        if process.poll() is not None:
            return False, early
        process.send_signal(signal.SIGKILL)
        return True, early
    finally:
        process.wait()


def final_passes(command: list[str], env: dict[str, str], log: TextIO) -> int:
    """Clean `run --once` passes until one ends with nothing waiting in the outbox."""
    for number in range(1, FINAL_PASSES + 1):
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        log.write(done.stderr)
        waiting = re.search(r"(\d+) waiting in the outbox", done.stderr)
        if done.returncode not in (0, 3):  # 3: alerts left undelivered, a later pass sends them
            raise RuntimeError(f"crash test: final run --once exited {done.returncode}")
        if waiting and waiting.group(1) == "0":
            return number
    return FINAL_PASSES


def count(result: CrashResult, room: Newsroom, messages: list[dict[str, Any]]) -> None:
    per_tag: Counter[str] = Counter()
    per_id: Counter[str] = Counter()
    for message in messages:
        found = TAG.search(str(message.get("text") or ""))
        tag = found.group(1) if found else f"<untagged ts={message.get('ts')}>"
        per_tag[tag] += 1
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        per_id[str(payload.get("alert_id"))] += 1
        if message.get("thread_ts"):
            result.replies += 1
        if tag in room.relevant and message.get("channel_name") != f"frt-{room.relevant[tag]}":
            result.unexpected.append(f"{tag}@{message.get('channel_name')}")
    result.messages = len(messages)
    result.expected = len(room.relevant)
    result.delivered = sum(1 for tag in room.relevant if per_tag[tag] >= 1)
    result.lost = sorted((tag for tag in room.relevant if per_tag[tag] == 0), key=_tag_order)
    result.duplicated = sorted(
        (f"{tag}x{n}" for tag, n in per_tag.items() if tag in room.relevant and n > 1),
        key=_tag_order,
    )
    result.unexpected += sorted(tag for tag in per_tag if tag not in room.relevant)
    result.duplicate_ids = sum(1 for n in per_id.values() if n > 1)


def _tag_order(tag: str) -> int:
    digits = re.search(r"\d+", tag)
    return int(digits.group()) if digits else 0


def run(
    kills: int = 20,
    seed: int = 7,
    *,
    feeds: int = 5,
    history_faults: bool = True,
    keep: bool = False,
    fault_rate: float = 0.5,
    once_rate: float = 0.3,
) -> CrashResult:
    """The whole scenario; the working directory is kept when it fails (or with keep)."""
    rng = random.Random(seed)
    result = CrashResult(kills, seed)
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="newsbot-crash-"))
    result.workdir = str(folder)
    with FeedServer() as server, SlackStub() as stub:
        room = Newsroom(server, feeds, rng)
        config = write_config(
            folder / "config", topics=topics_yaml(), extra_defaults="  backfill_hours: 48\n"
        )
        feed_list = write_feed_list(folder, room.urls())
        env = bot_env(folder / "state.db", stub)
        (folder / "logs").mkdir()
        room.add_round(relevant=2 * feeds, irrelevant=feeds)
        killed = 0
        while killed < kills:
            once = rng.random() < once_rate
            if rng.random() < fault_rate:
                inject_fault(stub, rng, result, history_faults)
            with open(folder / "logs" / f"life-{result.lives:03d}.log", "w") as log:
                hit, early = one_life(
                    bot_command(config, feed_list, once=once), env, log, server, rng
                )
            result.lives += 1
            killed += hit
            result.early_kills += hit and early
            result.clean_exits += not hit
            room.add_round(relevant=rng.randint(2, 5), irrelevant=rng.randint(1, 3))
        with open(folder / "logs" / "final.log", "w") as log:
            result.final_passes = final_passes(bot_command(config, feed_list, once=True), env, log)
        count(result, room, list(stub.messages))
    result.elapsed = time.monotonic() - started
    if result.ok and not keep:  # a failed run (or an exception) leaves its logs behind
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of a live process")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--feeds", type=int, default=5)
    parser.add_argument(
        "--no-history-faults",
        dest="history_faults",
        action="store_false",
        help="never fail conversations.history",
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    result = run(
        args.kills, args.seed, feeds=args.feeds, history_faults=args.history_faults, keep=args.keep
    )
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
