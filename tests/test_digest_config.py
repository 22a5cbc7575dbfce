"""Digest settings in the configuration: defaults, and `newsbot check`'s file:line errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.alerts.digest import next_time
from bot.config import load_config
from bot.models import DAYS, DigestSchedule
from tests.helpers import newsbot, write_config

BASE = '  channels: ["#a"]\n  query: ban\n'


def topic(name: str, extra: str) -> str:
    return f"- name: {name}\n{BASE}{extra}"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", None),
        ("  delivery: realtime\n", None),
        ("  delivery: digest\n", DigestSchedule(8, 0, DAYS, "UTC")),
        (
            '  delivery: digest\n  digest: {at: "18:45", days: [Friday, mon],\n'
            "    timezone: Asia/Tokyo}\n",
            DigestSchedule(18, 45, ("mon", "fri"), "Asia/Tokyo"),
        ),
        ('  delivery: digest\n  digest: {at: "7:05"}\n', DigestSchedule(7, 5, DAYS, "UTC")),
    ],
    ids=["no delivery", "realtime", "digest defaults", "all settings", "one-digit hour"],
)
def test_digest_settings(tmp_path: Path, extra: str, expected: DigestSchedule | None) -> None:
    (only,) = load_config(write_config(tmp_path, topics=topic("a", extra))).topics
    assert only.digest == expected
    assert only.delivery == ("digest" if expected else "realtime")


@pytest.mark.parametrize(
    ("defaults", "extra", "zone"),
    [
        ("", "", "UTC"),
        ("  timezone: Europe/Berlin\n", "", "Europe/Berlin"),
        ("  timezone: Europe/Berlin\n", "  timezone: Asia/Tokyo\n", "Asia/Tokyo"),
        (
            "  timezone: Europe/Berlin\n",
            "  digest: {timezone: America/Chicago}\n",
            "America/Chicago",
        ),
    ],
    ids=["UTC", "the defaults' timezone", "the topic's timezone", "the digest's own zone"],
)
def test_the_digest_zone_defaults_to_the_topic_timezone(
    tmp_path: Path, defaults: str, extra: str, zone: str
) -> None:
    topics = topic("a", f"  delivery: digest\n{extra}")
    (only,) = load_config(write_config(tmp_path, topics=topics, extra_defaults=defaults)).topics
    assert only.digest is not None
    assert only.digest.timezone == zone


def test_check_names_every_bad_digest_setting_with_file_and_line(tmp_path: Path) -> None:
    topics = (
        topic("a", '  delivery: digest\n  digest: {at: "25:00", days: [mon, funday], '
              "timezone: Europe/Pariss}\n")
        + topic("b", "  delivery: digest\n  digest: {at: 9:15}\n")
        + topic("c", "  delivery: digst\n")
        + topic("d", '  digest: {at: "07:00"}\n')
    )  # fmt: skip
    result = newsbot("check", "--config", str(write_config(tmp_path, topics=topics)), env={})
    assert result.returncode == 2
    errors = result.stderr
    assert "topics.yaml:5 topics[a].digest.at: must be a time of day HH:MM (24 h)" in errors
    assert "topics.yaml:5 topics[a].digest.days: unknown day 'funday' (use mon, tue" in errors
    assert "topics.yaml:5 topics[a].digest.timezone: unknown time zone 'Europe/Pariss'" in errors
    assert 'topics.yaml:10 topics[b].digest.at: write the time in quotes: at: "09:15"' in errors
    assert "topics.yaml:14 topics[c].delivery: input should be 'realtime' or 'digest'" in errors
    assert "topics.yaml:15 topics[d]: has `digest:` settings but `delivery` is realtime" in errors


WINTER, SUMMER = "2026-11-28T12:00:00+00:00", "2026-06-28T12:00:00+00:00"  # both Saturdays


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        (DigestSchedule(8, 0, DAYS, "UTC"), "2026-11-28T07:59:00+00:00", "2026-11-28T08:00Z"),
        (DigestSchedule(8, 0, DAYS, "UTC"), "2026-11-28T08:00:01+00:00", "2026-11-29T08:00Z"),
        (DigestSchedule(8, 0, ("mon",), "Europe/Paris"), WINTER, "2026-11-30T07:00Z"),
        (DigestSchedule(8, 0, ("mon",), "Europe/Paris"), SUMMER, "2026-06-29T06:00Z"),
        (DigestSchedule(17, 30, ("fri",), "America/New_York"), WINTER, "2026-12-04T22:30Z"),
    ],
    ids=["later today", "tomorrow", "monday, winter (CET)", "monday, summer (CEST)", "new york"],
)
def test_next_digest_time_is_in_the_digest_zone(
    schedule: DigestSchedule, now: str, expected: str
) -> None:
    when = next_time(schedule, datetime.fromisoformat(now))
    assert when is not None
    assert when.astimezone(UTC) == datetime.fromisoformat(expected.replace("Z", "+00:00"))
