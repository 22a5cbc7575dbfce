"""Messages that gather several stories: a topic's digest, the "and N more" list of a capped
poll. Pure.

A digest lists the stories held for one topic in one channel, grouped by event: the event's
first report (linked headline, outlet, time, a one-line summary) and under it the later reports
of the same event. The grouping is the clustering decision the pipeline took when it held each
story (its `parent_id`), not a second rule. It is one message, or a few when it would pass
Slack's 50 blocks: each message is a `Post` with its own id.

A `Post` is a message newsbot builds whole before queueing it; it goes through the outbox like an
alert (its own stable id in the message metadata, posted exactly once across crashes). Every
piece of feed text is escaped for mrkdwn by format.py's functions; every message stays inside
Slack's limits (format.MAX_BLOCKS blocks, format.SECTION_TEXT_MAX characters per section).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from bot.alerts.format import (
    MAX_BLOCKS,
    OUTLET_MAX,
    SECTION_TEXT_MAX,
    escape_fit,
    story_line,
)
from bot.models import Alert, Post, SlackMessage, Story

MORE = "more"  # Post.kind of an "and N more" list
DIGEST = "digest"  # Post.kind of a digest message


def post_id(kind: str, channel: str, keys: Sequence[str]) -> str:
    """Stable across restarts: derived from what the post lists, so a retry is the same post."""
    digest = hashlib.sha256("\n".join([kind, channel, *sorted(keys)]).encode())
    return f"{kind}-{digest.hexdigest()[:20]}"


def brief_line(story: Story, timezone: str = "UTC") -> str:
    """format.story_line without its summary: `<link|headline> · *Outlet* · time`."""
    return story_line(story, timezone).partition("\n")[0]


def render_more(
    channel: str,
    topics: Sequence[str],
    feed_name: str,
    stories: Sequence[Story],
    limit: int,
    timezone: str = "UTC",
) -> Post:
    """One message listing the stories of one poll that the per-poll cap kept from alerting."""
    names = ", ".join(f"*{escape_fit(name, 80)}*" for name in dict.fromkeys(topics))
    intro = (
        f"…and {len(stories)} more matching {_plural(len(stories), 'story', 'stories')} "
        f"({names}) from {escape_fit(feed_name, OUTLET_MAX)}, listed here: at most {limit} "
        "alerts are posted per feed per poll."
    )
    lines = [f"• {brief_line(story, timezone)}" for story in stories]
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


def render_digest(
    topic: str, channel: str, alerts: Sequence[Alert], timezone: str = "UTC"
) -> list[Post]:
    """The digest of `alerts` (held for `topic` in `channel`), as one or a few messages."""
    if not alerts:
        return []
    events = group_events(alerts)
    parts = _pack([_event_blocks(event, timezone) for event in events], MAX_BLOCKS - 1)
    base = post_id(DIGEST, channel, [alert.id for alert in alerts])
    title = escape_fit(topic, 80)
    stories = f"{len(alerts)} {_plural(len(alerts), 'story', 'stories')}"
    about = f"{stories} about {len(events)} {_plural(len(events), 'event', 'events')}"
    posts = []
    for number, blocks in enumerate(parts, start=1):
        part = f" (part {number} of {len(parts)})" if len(parts) > 1 else ""
        head = f"*Digest: {title}* · {about}{part}"
        message = SlackMessage(f"Digest: {title}, {about}{part}", [_section(head), *blocks])
        label = f"digest {topic} {number}/{len(parts)}"
        posts.append(Post(f"{base}-{number}of{len(parts)}", DIGEST, topic, channel, message, label))
    return posts


def group_events(alerts: Sequence[Alert]) -> list[list[Alert]]:
    """Alerts grouped by event (the clustering decision's parent), each group in order of
    publication, the groups in the order their events broke."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.parent_id or alert.id, []).append(alert)
    ordered = [sorted(group, key=_published_key) for group in groups.values()]
    return sorted(ordered, key=lambda group: _published_key(group[0]))


def _published_key(alert: Alert) -> float:
    published = alert.story.published
    return published.timestamp() if published is not None else float("inf")


def _event_blocks(event: Sequence[Alert], timezone: str) -> list[dict[str, Any]]:
    """An event: its first report as a section (headline, outlet, time, first sentence), the
    later ones as context lines under it."""
    blocks = [_section(story_line(event[0].story, timezone))]
    later = [f"Also: {brief_line(alert.story, timezone)}" for alert in event[1:]]
    for chunk in _chunks(later, SECTION_TEXT_MAX):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": chunk}]})
    return blocks


def _pack(events: list[list[dict[str, Any]]], max_blocks: int) -> list[list[dict[str, Any]]]:
    """Events' blocks into messages of at most `max_blocks` blocks, an event never split unless
    it alone is longer than a message."""
    messages: list[list[dict[str, Any]]] = []
    for blocks in events:
        if messages and len(messages[-1]) + len(blocks) <= max_blocks:
            messages[-1].extend(blocks)
            continue
        for start in range(0, len(blocks), max_blocks):
            messages.append(list(blocks[start : start + max_blocks]))
    return messages


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Lines joined into texts of at most `limit` characters (a longer line is cut)."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:limit])
    return chunks


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
