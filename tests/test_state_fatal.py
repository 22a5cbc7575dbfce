"""A fatal state error stops the service with exit 1 (issue 11 #9).

Before: on a full disk the service logged `state database failed`, then `stopped cleanly`, and
exited 0, so `Restart=on-failure` would not restart it; and a state file deleted under a running
service went unnoticed (`/readyz` ok) until a restart re-posted everything.
"""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import TEST_TOPICS, Item, env_for, newsbot, rss, running_service, wait_until
from tests.slackstub import SlackStub


def _config(folder: Path, feed_url: str) -> Path:
    folder.mkdir()
    (folder / "topics.yaml").write_text(TEST_TOPICS, encoding="utf-8")
    config = folder / "newsbot.yaml"
    config.write_text(
        "defaults:\n  jitter: 0\n  interval: 10\ntopics: topics.yaml\n"
        f"feeds:\n  - url: {feed_url}\n",
        encoding="utf-8",
    )
    return config


PLACES = ["Aberdeen", "Bologna", "Cordoba", "Dunedin", "Eindhoven", "Fresno", "Graz", "Hobart"]


def _big_stories() -> bytes:
    """New stories with long summaries: the poll's transaction writes far more than 64 KB."""
    filler = "The council debated the measure at length before the vote. " * 150
    return rss(
        [
            Item(f"big-{place}", f"{place} {topic}", f"{place}: {filler}")
            for place in PLACES
            for topic in ("bans facial recognition", "passes facial recognition law")
        ]
    )


def _full_disk_at(limit: int) -> Callable[[], None]:
    """In the child: no file may grow past `limit` bytes, and a write past it fails with EFBIG
    (as a full disk fails with ENOSPC) instead of killing the process with SIGXFSZ."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_fatal_state_error_exits_1_not_0(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    feed_server.set_feed("/a.xml", rss([Item("a", "Town bans facial recognition", "A ban.")]))
    config = _config(tmp_path / "config", feed_server.url("/a.xml"))
    env = env_for(tmp_path, slack)
    first = newsbot("run", "--once", "--config", str(config), env=env)
    assert first.returncode == 0, first.stderr  # the state works, and exists
    assert len(slack.messages) == 1
    feed_server.set_feed("/a.xml", _big_stories())  # the next poll's writes will not fit
    largest = max(path.stat().st_size for path in tmp_path.glob("state.db*"))
    disk_full = _full_disk_at(largest + 65_536)
    with running_service(config, env, tmp_path / "service.log", preexec_fn=disk_full) as service:
        code = service.process.wait(timeout=120)
    logs = service.logs()
    assert "state database failed" in logs, logs
    assert code == 1, logs
    assert "stopped cleanly" not in logs
    assert "stopped after a fatal state error" in logs


def _delete(state: Path) -> None:
    for path in state.parent.glob(state.name + "*"):  # the file, its WAL and shared memory
        path.unlink()


def _replace(state: Path) -> None:
    copy = state.with_name("copy.db")
    copy.write_bytes(state.read_bytes())
    copy.replace(state)  # a restore from backup over the live file


@pytest.mark.parametrize(
    ("change", "word"), [(_delete, "removed"), (_replace, "replaced")], ids=["deleted", "replaced"]
)
def test_a_state_file_changed_under_the_service_stops_it_with_exit_1(
    tmp_path: Path,
    feed_server: FeedServer,
    slack: SlackStub,
    change: Callable[[Path], None],
    word: str,
) -> None:
    feed_server.set_feed("/a.xml", rss([Item("a", "Town bans facial recognition", "A ban.")]))
    config = _config(tmp_path / "config", feed_server.url("/a.xml"))
    state = tmp_path / "state.db"
    env = {
        "NEWSBOT_DB": str(state),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
    }
    with running_service(config, env, tmp_path / "service.log") as service:
        slack.wait_for_messages(1, timeout=30)
        change(state)
        wait_until(lambda: service.process.poll() is not None, timeout=30)
    logs = service.logs()
    assert service.process.returncode == 1, logs
    assert f"the state file was {word} while newsbot was running" in logs
    assert "stopped cleanly" not in logs
