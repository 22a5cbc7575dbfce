"""Leases on a real PostgreSQL server: one holder per name, expiry and takeover, fair share,
periodic jobs once, and the replicas list (bot/state/leases.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.state.leases import SCHEMA, PgLeases, fair_share
from tests.helpers import ROOT

Make = Callable[..., PgLeases]


@pytest.fixture
def make(pg_url: str) -> Iterator[Make]:
    """`make(ident=..., ttl=...)`: a replica's leases over a fresh schema; all closed after."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    made: list[PgLeases] = []

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(pg_url, autocommit=True)

    def leases(**kwargs: Any) -> PgLeases:
        made.append(PgLeases(connect, **kwargs))
        return made[-1]

    yield leases
    for item in made:
        item.close()


def test_a_name_has_one_holder_until_it_expires(make: Make) -> None:
    one = make(ttl=1.0, ident="one")
    two = make(ttl=1.0, ident="two")
    assert one.claim_channel("#news")
    assert one.claim_channel("#news")  # renewing is claiming again
    assert not two.claim_channel("#news")
    time.sleep(1.2)  # `one` stops renewing (no heartbeat): its lease lapses
    assert two.claim_channel("#news")
    assert not one.claim_channel("#news")


def test_the_heartbeat_keeps_leases_alive(make: Make) -> None:
    one = make(ttl=1.0, ident="one")
    two = make(ttl=1.0, ident="two")
    assert one.claim_channel("#news")
    for _ in range(4):
        time.sleep(0.4)
        one.heartbeat(feeds=[])
        assert not two.claim_channel("#news")


def test_a_clean_stop_hands_everything_over_at_once(make: Make) -> None:
    one = make(ttl=60.0, ident="one")
    two = make(ttl=60.0, ident="two")
    assert one.claim_feed("http://a/feed")
    assert one.claim_channel("#news")
    one.release_all()
    assert two.claim_feed("http://a/feed")
    assert two.claim_channel("#news")
    assert [r.id for r in two.replicas()] == ["two"]


def test_a_periodic_job_slot_runs_once_across_replicas(make: Make) -> None:
    one = make(ident="one")
    two = make(ident="two")
    assert one.first_to_run("prune", 7)
    assert not two.first_to_run("prune", 7)
    assert two.first_to_run("prune", 8)
    assert two.first_to_run("digest:frt", 7)


def test_feeds_spread_to_a_fair_share(make: Make) -> None:
    urls = [f"http://feeds/{n}" for n in range(10)]
    one = make(ttl=60.0, ident="one")
    assert all(one.claim_feed(url) for url in urls)  # alone: it takes everything
    two = make(ttl=60.0, ident="two")
    assert two.heartbeat(urls) == []  # `one` holds them all
    assert one.heartbeat(urls) == []  # two replicas live now: `one` gives back all but five
    taken = [url for url in urls if two.claim_feed(url)]
    assert len(taken) == 5
    assert sum(one.claim_feed(url) for url in urls) == 5
    listed = {r.id: r.feeds for r in one.replicas()}
    assert listed == {"one": 5, "two": 5}


def test_a_replica_under_its_share_is_told_which_feeds_nobody_holds(make: Make) -> None:
    urls = [f"http://feeds/{n}" for n in range(10)]
    one = make(ttl=1.0, ident="one")
    two = make(ttl=1.0, ident="two")
    assert all(one.claim_feed(url) for url in urls)  # before any heartbeat: no share yet
    two.heartbeat(urls)
    one.heartbeat(urls)  # gives five back
    free = two.heartbeat(urls)
    assert len(free) == 5
    assert not [url for url in free if one.claim_feed(url)]  # `one` is at its share
    assert all(two.claim_feed(url) for url in free)
    assert two.heartbeat(urls) == []  # at its share, nothing is free
    time.sleep(1.2)  # `one` dies: no more heartbeats, its five lapse
    assert sorted(two.heartbeat(urls)) == sorted(set(urls) - set(free))


def test_the_replicas_list_says_who_holds_which_channel(make: Make) -> None:
    one = make(ttl=60.0, ident="host:1:100")
    two = make(ttl=60.0, ident="host:2:100")
    one.claim_channel("#a")
    two.claim_channel("#b")
    two.claim_channel("#c")
    rows = {r.id: r for r in one.replicas()}
    assert rows["host:1:100"].channels == ("#a",)
    assert rows["host:2:100"].channels == ("#b", "#c")
    assert all(r.alive for r in rows.values())


def test_an_unreachable_database_claims_nothing(make: Make, pg_url: str) -> None:
    one = make(ident="one")
    one._connect = lambda: psycopg.connect(pg_url.replace("/t", "/missing_t"), autocommit=True)
    one._conn.close()
    assert not one.claim_channel("#news")
    assert not one.first_to_run("prune", 1)
    one.heartbeat(feeds=["http://a/feed"])
    assert "missing_t" in one.problem()


@pytest.mark.parametrize(
    ("feeds", "live", "share"),
    [("none", 0, 0), ("even", 2, 5), ("rounded up", 3, 4), ("no live count yet", 0, 10)],
)
def test_fair_share(feeds: str, live: int, share: int) -> None:
    total = 0 if feeds == "none" else 10
    assert fair_share(total, live) == share


def test_sqlite_state_gets_one_owner_without_loading_psycopg(tmp_path: Path) -> None:
    """Asking which coordinator SQLite state needs must not import psycopg (0.1 s of every
    start): a fresh interpreter, as `newsbot run` starts."""
    script = (
        "import sys\n"
        "from bot.state.leases import Solo, coordinator_for, replicas_of\n"
        "from bot.state.sqlite import SqliteStore\n"
        f"store = SqliteStore({str(tmp_path / 'state.db')!r})\n"
        "assert isinstance(coordinator_for(store), Solo)\n"
        "assert replicas_of(store) is None\n"
        "loaded = ('psycopg', 'bot.state.postgres')\n"
        "print(sorted(name for name in sys.modules if name.startswith(loaded)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
