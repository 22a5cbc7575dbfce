"""Messages that gather several stories: the "and N more" list of a capped poll. Pure.

A `Post` is a message newsbot builds whole before queueing it; it goes through the outbox like an
alert (its own stable id in the message metadata, posted exactly once across crashes). Every
piece of feed text is escaped for mrkdwn by format.py's functions; every message stays inside
Slack's limits (format.MAX_BLOCKS blocks, format.SECTION_TEXT_MAX characters per section).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.format import (
    MAX_BLOCKS,
    OUTLET_MAX,
    SECTION_TEXT_MAX,
    SlackMessage,
    escape_fit,
    link,
)
from bot.models import Story

MORE = "more"  # Post.kind of an "and N more" list
ROUNDUP_HEADLINE_MAX = 200  # shorter than an alert's headline: these are lists


@dataclass(frozen=True, slots=True)
class Post:
    """A message built whole by newsbot, queued and delivered like an alert."""

    id: str  # stable: the same content in the same channel is the same post
    kind: str  # MORE (or "digest")
    topic: str
    channel: str
    message: SlackMessage
    label: str  # what the log and `status` call it


def post_id(kind: str, channel: str, keys: Sequence[str]) -> str:
    """Stable across restarts: derived from what the post lists, so a retry is the same post."""
    digest = hashlib.sha256("\n".join([kind, channel, *sorted(keys)]).encode())
    return f"{kind}-{digest.hexdigest()[:20]}"


def story_line(story: Story, zone: tzinfo = UTC) -> str:
    """`<url|Headline> · Outlet · time`, escaped and bounded: one story in a list."""
    title = escape_fit(story.title, ROUNDUP_HEADLINE_MAX) or "(untitled)"
    outlet = escape_fit(story.source, OUTLET_MAX) or "unknown outlet"
    return f"{link(story.url, title)} · {outlet} · {when(story.published, zone)}"


def when(published: datetime | None, zone: tzinfo = UTC) -> str:
    """A publication time in `zone`, e.g. `2026-11-28 08:15 CET`."""
    if published is None:
        return "date unknown"
    aware = published if published.tzinfo else published.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z").strip()


def render_more(
    channel: str, topics: Sequence[str], feed_name: str, stories: Sequence[Story], limit: int
) -> Post:
    """One message listing the stories of one poll that the per-poll cap kept from alerting."""
    names = ", ".join(f"*{escape_fit(name, 80)}*" for name in dict.fromkeys(topics))
    intro = (
        f"…and {len(stories)} more matching {_plural(len(stories), 'story', 'stories')} "
        f"({names}) from {escape_fit(feed_name, OUTLET_MAX)}, listed here: at most {limit} "
        "alerts are posted per feed per poll."
    )
    lines = [f"• {story_line(story)}" for story in stories]
    blocks = [_section(intro), *_sections(lines, MAX_BLOCKS - 1)]
    shown = sum(block["text"]["text"].count("\n") + 1 for block in blocks[1:])
    if shown < len(stories):  # thousands of them: say how many the list could not hold
        blocks[-1]["text"]["text"] += f"\n…and {len(stories) - shown} more not listed."
    text = f"…and {len(stories)} more matching stories from {escape_fit(feed_name, OUTLET_MAX)}"
    keys = [story.key for story in stories]
    label = f"and {len(stories)} more ({feed_name})"
    return Post(
        post_id(MORE, channel, keys),
        MORE,
        next(iter(topics), ""),
        channel,
        SlackMessage(text, blocks),
        label,
    )


def _sections(lines: Sequence[str], max_blocks: int) -> list[dict[str, Any]]:
    """Lines packed into at most `max_blocks` section blocks of at most SECTION_TEXT_MAX chars
    (with room kept for a closing "…and N more not listed" line)."""
    budget = SECTION_TEXT_MAX - 60
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= budget:
            chunks[-1] += "\n" + line
        elif len(chunks) < max_blocks:
            chunks.append(line[:budget])
        else:
            break
    return [_section(chunk) for chunk in chunks]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT_MAX]}}


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many
