"""Test helpers: build feed bodies and run `newsbot` as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

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
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "NEWSBOT_"))
    }
    base.update({"NEWSBOT_HTTP_PORT": "0", **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
