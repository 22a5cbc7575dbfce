"""Many processes, one SQLite state file (issue 12 §2): one delivers, the others refuse with exit 1
naming the holder, and nothing is posted twice or lost. Through real `newsbot` processes, the
local feed server and the Slack stand-in."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.state.instance import ONCE, SERVICE, InstanceBusy, InstanceLock
from tests.feedserver import FeedServer
from tests.helpers import (
    ROOT,
    Item,
    clean_env,
    env_for,
    newsbot,
    rss,
    running_service,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

CITIES = [
    "Springfield",
    "Shelbyville",
    "Ogdenville",
    "North Haverbrook",
    "Capital City",
    "Brockway",
    "Cypress Creek",
    "Waverly Hills",
    "Dunkleburg",
    "Cape Feare",
]
ACTIONS = [
    "council votes to ban police facial recognition",
    "regulator fines retailer over facial recognition cameras",
    "court halts school facial recognition under state privacy law",
    "mayor signs moratorium on facial recognition by city agencies",
]
REFUSED = "is in use by another newsbot"


def story(round_: int, n: int) -> Item:
    city = CITIES[(round_ * 4 + n) % len(CITIES)]
    action = ACTIONS[n % len(ACTIONS)]
    # the guid ends in "x": no story's URL is a prefix of another's
    return Item(f"r{round_}s{n}x", f"{city} {action} (report {round_}.{n})", hours_ago=1.0)


def setup_env(tmp_path: Path, slack: SlackStub) -> dict[str, str]:
    return env_for(tmp_path, slack)


def start_once(config: Path, feeds: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "run",
            "--once",
            *("--config", str(config)),
            "--feeds",
            str(feeds),
        ],
        cwd=ROOT,
        env=clean_env({"NEWSBOT_HTTP_PORT": "0", **env}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def posts_of(slack: SlackStub, url: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages if f"{url}|" in json.dumps(m) or f"{url}>" in m["text"]]


def test_two_run_once_on_one_file_never_post_twice_and_lose_nothing(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/news.xml")])
    env = setup_env(tmp_path, slack)
    for _ in range(400):  # Slack slowed: each post takes 0.25 s before Slack has it
        slack.fail_next("chat.postMessage", delay=0.25, record=False)
    items: list[Item] = []
    outcomes: list[tuple[int, int]] = []
    refusals: list[str] = []
    for round_ in range(5):
        items += [story(round_, n) for n in range(4)]  # new stories between rounds
        feed_server.set_feed("/news.xml", rss(items, "Outlet"))
        runs = [start_once(config, feeds, env) for _ in range(2)]
        results = [(*run.communicate(timeout=120), run.returncode) for run in runs]
        results = [(code, out, err) for out, err, code in results]
        outcomes.append((results[0][0], results[1][0]))
        for code, _, stderr in results:
            assert code in (0, 1), stderr
            if code == 1:
                assert REFUSED in stderr, stderr
                assert "run --once since" in stderr  # names the holder and what it does
                refusals.append(stderr)
        assert 0 in (results[0][0], results[1][0]), results  # one of the two did the work
    urls = [f"https://news.example/{item.guid}" for item in items]
    posted = {url: len(posts_of(slack, url)) for url in urls}
    assert posted == dict.fromkeys(urls, 1), (posted, outcomes)
    ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages if m["metadata"]]
    assert len(ids) == len(set(ids)) == len(urls)
    # The test meant something: runs did overlap and one of them was refused.
    assert refusals, f"the two runs never overlapped: {outcomes}"


def test_a_second_service_refuses_naming_the_holder_and_a_killed_one_blocks_nothing(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed("/news.xml", rss([story(0, 0)], "Outlet"))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/news.xml")])
    env = setup_env(tmp_path, slack)
    lock = tmp_path / "state.db.lock"
    args = ("--feeds", str(feeds))
    with running_service(config, env, tmp_path / "first.log", extra_args=args) as first:
        wait_until(lambda: lock.exists() and f"pid={first.process.pid}" in lock.read_text())
        slack.wait_for_messages(1, timeout=30)
        second = newsbot("run", "--config", str(config), *args, env=env, timeout=60)
        assert second.returncode == 1, second.stderr
        holder = f"pid {first.process.pid} on host {socket.gethostname()}, service since 20"
        assert holder in second.stderr
        assert "a second service on one state file would post alerts twice" in second.stderr
        once = newsbot("run", "--once", "--config", str(config), *args, env=env, timeout=60)
        assert once.returncode == 1, once.stderr
        assert holder in once.stderr
        assert "`newsbot run --once` refused: the running service polls" in once.stderr
        os.kill(first.process.pid, signal.SIGKILL)  # no chance to release anything
        first.process.wait(timeout=15)
    after = newsbot("run", "--once", "--config", str(config), *args, env=env, timeout=60)
    assert after.returncode == 0, after.stderr
    assert len(slack.messages) == 1  # the story, once
    assert lock.read_text() == ""  # released by the run that ended


@pytest.mark.parametrize("role", ["digest", "run --once --dry-run"])
def test_what_may_run_beside_a_service(
    role: str, tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    """`digest` delivers too: refused. `--dry-run` works on a private copy: allowed."""
    feed_server.set_feed("/news.xml", rss([story(0, 0)], "Outlet"))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/news.xml")])
    env = setup_env(tmp_path, slack)
    lock = tmp_path / "state.db.lock"
    with running_service(config, env, tmp_path / "svc.log", extra_args=("--feeds", str(feeds))):
        wait_until(lambda: lock.exists() and "role=service" in lock.read_text())
        extra = ["--feeds", str(feeds)] if role.startswith("run") else []
        result = newsbot(*role.split(), "--config", str(config), *extra, env=env, timeout=60)
    if role == "digest":
        assert result.returncode == 1, result.stderr
        assert "`newsbot digest` refused: the running service cuts and posts digests" in (
            result.stderr
        )
    else:
        assert result.returncode == 0, result.stderr


def test_the_lock_names_its_holder_and_is_free_again_once_released(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    first = InstanceLock.take(db, SERVICE)
    try:
        with pytest.raises(InstanceBusy, match=rf"pid {os.getpid()} on host .*, service since"):
            InstanceLock.take(db, ONCE)
    finally:
        first.release()
    assert (tmp_path / "state.db.lock").read_text() == ""  # names no one once released
    again = InstanceLock.take(db, ONCE)
    assert "role=run --once" in (tmp_path / "state.db.lock").read_text()
    again.release()
