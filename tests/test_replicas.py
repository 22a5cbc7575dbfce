"""Replicas on one PostgreSQL database, through real processes: two and three `newsbot run`
services share the feeds and the channels; one is SIGKILLed mid-way while stories keep
arriving; every relevant story is posted exactly once, stories ten days old at start never, and
the survivors take over the dead one's feeds and channels.

The stories and the count by tag are bench/crash.py's (one topic and channel per desk; a quarter
of the stories another outlet's report of an earlier event, which may become a thread reply:
still one message each).
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from bench.crash import CrashResult, Newsroom, count, topics_yaml
from tests.feedserver import FeedServer
from tests.helpers import (
    Item,
    ServiceProcess,
    get,
    newsbot,
    rss,
    running_service,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.pgserver import PgServer
from tests.slackstub import SlackStub

FEEDS = 8
LEASE_SECONDS = "3"  # a dead replica's leases lapse after 3 s (the default is 30)


def env_for(pg_url: str, slack: SlackStub) -> dict[str, str]:
    return {
        "NEWSBOT_DB": pg_url,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "NEWSBOT_LEASE_SECONDS": LEASE_SECONDS,
    }


def old_stories(room: Newsroom) -> list[str]:
    """A relevant story ten days old in every feed at start: never to be posted."""
    tags = []
    for n, path in enumerate(room.paths):
        tag = f"old{n}"
        title = f"North desk: Oldtown{n} council bans facial recognition ({tag})"
        room.items[path].append(Item(tag, title, "Old news.", hours_ago=240))
        room.server.set_feed(path, rss(room.items[path], f"Outlet {n}"))
        tags.append(tag)
    return tags


def holders(pg_url: str) -> dict[str, str]:
    """Lease name -> replica id, of the leases not expired ({} before the schema exists)."""
    with psycopg.connect(pg_url) as conn:
        try:
            rows = conn.execute(
                "SELECT name, holder FROM leases "
                "WHERE expires > extract(epoch FROM clock_timestamp())"
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
    return dict(rows)


@pytest.fixture
def replicas_started(tmp_path: Path) -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def start(
    stack: ExitStack, n: int, config: Path, feeds: Path, env: dict[str, str], folder: Path
) -> list[ServiceProcess]:
    return [
        stack.enter_context(
            running_service(
                config, env, folder / f"replica{i}.log", extra_args=("--feeds", str(feeds))
            )
        )
        for i in range(n)
    ]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_post_each_story_once_and_take_over_from_a_killed_one(
    replicas: int,
    tmp_path: Path,
    pg_url: str,
    feed_server: FeedServer,
    slack: SlackStub,
    replicas_started: ExitStack,
) -> None:
    room = Newsroom(feed_server, FEEDS, random.Random(replicas))
    room.add_round(0, 0)
    old = old_stories(room)
    config = write_config(tmp_path / "config", topics=topics_yaml(), extra_defaults="")
    config.write_text(config.read_text().replace("interval: 60", "interval: 10"))
    feeds = write_feed_list(tmp_path, room.urls())
    env = env_for(pg_url, slack)
    services = start(replicas_started, replicas, config, feeds, env, tmp_path)
    wait_until(lambda: sum(name.startswith("feed:") for name in holders(pg_url)) == FEEDS, 60)

    room.add_round(relevant=6, irrelevant=3)
    wait_until(lambda: len(slack.messages) >= 6, 60)
    victim = max(services, key=lambda s: _held_by(pg_url, s))  # the one holding most
    room.add_round(relevant=6, irrelevant=3)  # arriving while it dies
    victim_feeds = [
        name
        for name, holder in holders(pg_url).items()
        if name.startswith("feed:") and f":{victim.process.pid}:" in holder
    ]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    killed_at = time.monotonic()
    for _ in range(3):
        time.sleep(4)
        room.add_round(relevant=4, irrelevant=2)
    expected = len(room.relevant)
    wait_until(lambda: len(slack.messages) >= expected, 90)
    taken_over = time.monotonic() - killed_at
    time.sleep(2)  # anything posted twice would have arrived by now too

    result = CrashResult(kills=1, seed=replicas)
    count(result, room, slack.messages)
    print(
        f"{replicas} replicas, 1 SIGKILLed holding {len(victim_feeds)} of {FEEDS} feeds: "
        f"{'; '.join(result.summary().splitlines()[1:3])}; "
        f"every story in Slack {taken_over:.0f} s after the kill"
    )
    assert result.lost == [], result.summary()
    assert result.duplicated == [], result.summary()
    assert result.unexpected == [], result.summary()
    texts = " ".join(m.get("text", "") for m in slack.messages)
    assert not [tag for tag in old if f"({tag})" in texts]
    survivors = [s for s in services if s is not victim]
    held = holders(pg_url)
    dead = f":{victim.process.pid}:"
    assert not [name for name, holder in held.items() if dead in holder]
    assert sum(name.startswith("feed:") for name in held) == FEEDS
    for service in survivors:
        assert get(service.url("/readyz"))[0] == 200
        assert service.stop() == 0


def _held_by(pg_url: str, service: ServiceProcess) -> int:
    """How many feed leases the service holds."""
    marker = f":{service.process.pid}:"
    held = holders(pg_url).items()
    return sum(name.startswith("feed:") and marker in holder for name, holder in held)


def test_status_lists_the_replicas_and_what_each_holds(
    tmp_path: Path,
    pg_url: str,
    feed_server: FeedServer,
    slack: SlackStub,
    replicas_started: ExitStack,
) -> None:
    room = Newsroom(feed_server, 4, random.Random(1))
    room.add_round(relevant=2, irrelevant=0)
    config = write_config(tmp_path / "config", topics=topics_yaml())
    # An hour between polls: a feed one replica hands over to the other at start is polled (and
    # its lease taken) at the other's next heartbeat, not an hour later.
    config.write_text(config.read_text().replace("interval: 60", "interval: 3600"))
    feeds = write_feed_list(tmp_path, room.urls())
    env = env_for(pg_url, slack)
    services = start(replicas_started, 2, config, feeds, env, tmp_path)
    wait_until(lambda: [_held_by(pg_url, service) for service in services] == [2, 2], 60)
    status = newsbot("status", "--config", str(config), env=env)
    assert status.returncode == 0, status.stderr
    for service in services:
        assert f":{service.process.pid}:" in status.stdout
    assert "replicas" in status.stdout.lower()
    for service in services:
        assert service.stop() == 0


@pytest.fixture
def own_pg_server(pg_server: PgServer) -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own (it is stopped mid-test; the session's is not)."""
    server = PgServer(pg_server.bin_dir)
    server.start()
    yield server
    server.stop()


def test_readyz_fails_while_the_database_is_away_and_recovers(
    tmp_path: Path,
    own_pg_server: PgServer,
    feed_server: FeedServer,
    slack: SlackStub,
    replicas_started: ExitStack,
) -> None:
    url = own_pg_server.create_database()
    room = Newsroom(feed_server, 2, random.Random(5))
    room.add_round(relevant=1, irrelevant=0)
    config = write_config(tmp_path / "config", topics=topics_yaml())
    config.write_text(config.read_text().replace("interval: 60", "interval: 10"))
    feeds = write_feed_list(tmp_path, room.urls())
    (service,) = start(replicas_started, 1, config, feeds, env_for(url, slack), tmp_path)
    wait_until(lambda: get(service.url("/readyz"))[0] == 200, 60)

    own_pg_server.pause()
    wait_until(lambda: get(service.url("/readyz"))[0] == 503, 30)
    assert "unreachable" in get(service.url("/readyz"))[1]
    assert service.process.poll() is None  # still running: a database away is not fatal

    own_pg_server.resume()
    wait_until(lambda: get(service.url("/readyz"))[0] == 200, 60)
    wait_until(lambda: len(slack.messages) == 1, 30)  # the story present at start
    room.add_round(relevant=1, irrelevant=0)  # and one after the outage: polled and posted
    wait_until(lambda: len(slack.messages) == 2, 60)
    assert service.stop() == 0
    assert len({m["text"] for m in slack.messages}) == len(slack.messages) == 2
    assert "unreachable" in service.logs()
