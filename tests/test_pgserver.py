"""The test PostgreSQL server itself: a real server, one empty database per test."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgserver import PgServer


def test_each_test_gets_its_own_empty_database(pg_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE mark (x int)")
        assert tables == (0,)
    other = pg_server.create_database()
    assert other != pg_url
    with psycopg.connect(other, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('public.mark')").fetchone()
    assert row == (None,)


def test_the_server_is_postgresql_on_loopback(pg_url: str) -> None:
    assert pg_url.startswith("postgresql://newsbot@127.0.0.1:")
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        address = conn.execute("SELECT inet_server_addr()::text").fetchone()
    assert version is not None
    assert int(version[0]) >= 120000
    assert address == ("127.0.0.1/32",)


@pytest.mark.parametrize("name", ["initdb", "pg_ctl"])
def test_the_binaries_are_found(pg_server: PgServer, name: str) -> None:
    assert (pg_server.bin_dir / name).exists()
