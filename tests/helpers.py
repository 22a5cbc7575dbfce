"""Test helpers: feed bodies, and `newsbot` run as a real subprocess (a command or the service)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from bot.models import Alert
    from bot.state.interface import Store
    from tests.slackstub import SlackStub

ROOT = Path(__file__).resolve().parent.parent

TEST_TOPICS = """\
- name: frt-policy
  channels: ["#frt-alerts"]
  threshold: 30
  query: |
    ("facial recognition" OR "face recognition" OR "face scanning")
    AND (ban* OR moratorium OR law OR pause* OR fine*)
    -unlock
"""


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    summary: str = ""
    link: str = ""
    hours_ago: float = 1.0


def rss(items: list[Item], title: str = "Test Outlet") -> bytes:
    """An RSS 2.0 document; titles and summaries are XML-escaped (their text is what we test)."""
    now = datetime.now(UTC)
    entries = []
    for item in items:
        published = format_datetime(now - timedelta(hours=item.hours_ago))
        link = item.link or f"https://news.example/{item.guid}"
        entries.append(
            f"<item><guid>{escape(item.guid)}</guid><title>{escape(item.title)}</title>"
            f"<link>{escape(link)}</link><description>{escape(item.summary)}</description>"
            f"<pubDate>{published}</pubDate></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>"
        f"<description>test</description>{''.join(entries)}</channel></rss>"
    ).encode()


def write_config(folder: Path, topics: str = TEST_TOPICS, extra_defaults: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "topics.yaml").write_text(topics, encoding="utf-8")
    path = folder / "newsbot.yaml"
    path.write_text(
        f"defaults:\n  interval: 60\n  jitter: 0\n{extra_defaults}topics: topics.yaml\nfeeds: []\n",
        encoding="utf-8",
    )
    return path


def write_feed_list(folder: Path, urls: list[str]) -> Path:
    path = folder / "feeds.txt"
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


def newsbot(
    *args: str, env: dict[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` from the repository root with only the given settings."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=clean_env({"NEWSBOT_HTTP_PORT": "0", **env}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def env_for(tmp_path: Path, slack: SlackStub) -> dict[str, str]:
    """The settings of a run on `tmp_path`'s state file, posting to the Slack stand-in."""
    return {
        "NEWSBOT_DB": str(tmp_path / "state.db"),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
    }


def clean_env(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment without any SLACK_/NEWSBOT_ setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSBOT_"))}
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def get(url: str) -> tuple[int, str]:
    """GET on a local endpoint: (status, body); (0, "") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@dataclass
class ServiceProcess:
    """A `newsbot run` service started as an operator starts it, its output in a log file."""

    process: subprocess.Popen[str]
    config: Path
    log: Path
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def running_service(
    config: Path,
    env: dict[str, str],
    log: Path,
    *,
    extra_args: tuple[str, ...] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[ServiceProcess]:
    """Start `python -m bot run --config CONFIG` with only `env`'s settings (plus a free health
    port unless `env` names one); kill it on the way out if the test did not stop it.
    `preexec_fn` runs in the child before newsbot starts (resource limits)."""
    port = int(env.get("NEWSBOT_HTTP_PORT") or free_port())
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config), *extra_args],
            cwd=ROOT,
            env=clean_env({**env, "NEWSBOT_HTTP_PORT": str(port)}),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec_fn,
        )
    try:
        yield ServiceProcess(process, config, log, port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def queue_alerts(
    store: Store, alerts: list[Alert], feed_url: str = "https://feed.example/rss"
) -> list[Alert]:
    """Queue `alerts` in the outbox through the store's poll unit of work (as a poll would)."""
    with store.poll(feed_url) as tx:
        return tx.record(
            title=None, etag=None, last_modified=None, stories=[], alerts=alerts, next_due=0.0
        )
