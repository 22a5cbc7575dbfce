"""A YAML alias bomb in the config (issue 11 #7).

"Billion laughs" in YAML: nine anchors, each a list of nine aliases of the one before, is a few
hundred bytes that expand to 387 million values. PyYAML composes it as a small graph in
milliseconds; reading it into plain data with line numbers grew `newsbot check` past 1.7 GB, and
a running service's reload grew ~24 MB/s and blocked SIGTERM. It is refused before expansion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import MAX_YAML_VALUES, load_config
from bot.errors import ConfigError
from tests.feedserver import FeedServer
from tests.helpers import TEST_TOPICS, Item, get, newsbot, rss, running_service, wait_until


def bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"lol0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def _config(folder: Path, feed_url: str, head: str = "") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
    config = folder / "newsbot.yaml"
    config.write_text(
        f"{head}defaults:\n  jitter: 0\ntopics: topics.yaml\nfeeds:\n  - url: {feed_url}\n",
        encoding="utf-8",
    )
    return config


def test_a_yaml_alias_bomb_is_refused_by_check(tmp_path: Path) -> None:
    config = _config(tmp_path / "config", "http://127.0.0.1:9/a.xml", head=bomb())
    result = newsbot("check", "--config", str(config), env={}, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "newsbot.yaml:8: anchors and aliases expand this file to more than " in result.stderr
    assert f"{MAX_YAML_VALUES:,} values" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_alias_bomb_in_a_topics_file_is_refused_too(tmp_path: Path) -> None:
    config = _config(tmp_path / "config", "http://127.0.0.1:9/a.xml")
    topics = tmp_path / "config" / "topics.yaml"
    topics.write_text(bomb() + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert "topics.yaml:8: anchors and aliases expand" in caught.value.render()


def test_anchors_and_aliases_of_a_normal_size_still_load(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "topics.yaml").write_text(
        TEST_TOPICS.replace('channels: ["#frt-alerts"]', 'channels: &alerts ["#frt-alerts"]')
        + TEST_TOPICS.replace("frt-policy", "frt-copy").replace(
            'channels: ["#frt-alerts"]', "channels: *alerts"
        ),
        encoding="utf-8",
    )
    config = folder / "newsbot.yaml"
    config.write_text("topics: topics.yaml\nfeeds: []\n", encoding="utf-8")
    loaded = load_config(config)
    assert [topic.channels for topic in loaded.topics] == [("#frt-alerts",), ("#frt-alerts",)]


def test_deep_yaml_nesting_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    config = _config(
        tmp_path / "config", "http://127.0.0.1:9/a.xml", head="x: " + "[" * 5000 + "]" * 5000 + "\n"
    )
    result = newsbot("check", "--config", str(config), env={}, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_alias_bomb_reload_is_rejected_and_sigterm_still_stops_the_service(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/a.xml", rss([Item("a", "City bans facial recognition", "A ban.")]))
    config = _config(tmp_path / "config", feed_server.url("/a.xml"))
    env = {"NEWSBOT_DB": str(tmp_path / "state.db")}
    with running_service(config, env, tmp_path / "service.log") as service:
        readyz = service.url("/readyz")
        wait_until(lambda: get(readyz)[0] == 200, timeout=30)
        _config(tmp_path / "config", feed_server.url("/a.xml"), head=bomb())
        wait_until(lambda: "config change rejected" in service.logs(), timeout=30)
        status, body = get(readyz)
        assert status == 503
        assert "anchors and aliases expand" in body
        assert service.stop(timeout=15) == 0
    logs = service.logs()
    assert logs.count("config change rejected") == 1
    assert "stopped cleanly" in logs
