"""The `timezone` setting: defaults and per topic, IANA names checked by `newsbot check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from tests.helpers import newsbot, write_config

TOPICS = """\
- name: berlin-desk
  channels: ["#berlin"]
  timezone: Europe/Berlin
  any: ["facial recognition"]
- name: default-desk
  channels: ["#default"]
  any: ["facial recognition"]
"""


def test_topics_inherit_the_default_zone_unless_they_set_their_own(tmp_path: Path) -> None:
    path = write_config(tmp_path, TOPICS, extra_defaults="  timezone: America/New_York\n")
    zones = {topic.name: topic.timezone for topic in load_config(path).topics}
    assert zones == {"berlin-desk": "Europe/Berlin", "default-desk": "America/New_York"}


def test_the_default_zone_is_utc(tmp_path: Path) -> None:
    path = write_config(tmp_path, TOPICS.replace("  timezone: Europe/Berlin\n", ""))
    assert {topic.timezone for topic in load_config(path).topics} == {"UTC"}


@pytest.mark.parametrize(
    ("topics", "extra_defaults", "expected"),
    [
        pytest.param(
            TOPICS.replace("Europe/Berlin", "Europe/Berln"),
            "",
            "topics.yaml:3 topics[berlin-desk].timezone: unknown time zone 'Europe/Berln'",
            id="topic-misspelt",
        ),
        pytest.param(
            TOPICS,
            "  timezone: CEST\n",
            "newsbot.yaml:4 defaults.timezone: unknown time zone 'CEST'",
            id="default-abbreviation-not-iana",
        ),
        pytest.param(
            TOPICS.replace("Europe/Berlin", "../../etc/passwd"),
            "",
            "topics.yaml:3 topics[berlin-desk].timezone: unknown time zone '../../etc/passwd'",
            id="path-is-not-a-zone",
        ),
    ],
)
def test_check_refuses_unknown_zones_with_file_line_and_key(
    tmp_path: Path, topics: str, extra_defaults: str, expected: str
) -> None:
    path = write_config(tmp_path, topics, extra_defaults=extra_defaults)
    result = newsbot("check", "--config", str(path), env={})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "use an IANA name such as 'Europe/Berlin'" in result.stderr
