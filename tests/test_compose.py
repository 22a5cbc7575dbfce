"""compose.yaml's `replicas` profile: PostgreSQL with a named volume and a healthcheck, two
replicas that wait for it and reach it by a postgresql:// URL (read as Compose reads it)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.helpers import ROOT


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_the_replicas_profile_runs_postgres_on_a_named_volume_with_a_healthcheck() -> None:
    services, volumes = compose()["services"], compose()["volumes"]
    postgres = services["postgres"]
    assert postgres["profiles"] == ["replicas"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    (volume,) = postgres["volumes"]
    name, _, target = volume.partition(":")
    assert name in volumes
    assert target == "/var/lib/postgresql/data"


def test_two_replicas_share_the_database_and_wait_for_it() -> None:
    services = compose()["services"]
    replicas = [s for name, s in services.items() if name.startswith("replica-")]
    assert len(replicas) == 2
    ports = set()
    for replica in replicas:
        assert replica["profiles"] == ["replicas"]
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert replica["environment"]["NEWSBOT_DB"].startswith("postgresql://")
        assert "@postgres:5432/newsbot" in replica["environment"]["NEWSBOT_DB"]
        ports.update(replica["ports"])
    assert len(ports) == 2  # each replica's /readyz on a port of its own


def test_the_single_sqlite_service_stays_outside_the_profile() -> None:
    assert "profiles" not in compose()["services"]["newsbot"]
