"""Conversions between the values of bot/state/interface.py and stored rows, shared by engines.

A row is any mapping from column name to value (sqlite3.Row, a psycopg dict row). Alerts and
messages are stored as JSON text in `payload`; times as POSIX seconds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.models import Alert, Feedback, Match, Post, SlackMessage, Story, TermHit, Verdict
from bot.state.interface import (
    ALERT,
    UNREADABLE_ALERT,
    AlertedReport,
    AlertRecord,
    AlertStatus,
    QueuedAlert,
)

# What decoding a damaged stored alert raises (bad JSON, missing or mistyped fields).
UNREADABLE = (ValueError, KeyError, TypeError, IndexError, AttributeError)


class Row(Protocol):
    """A stored row: its columns by name (sqlite3.Row, a psycopg dict row)."""

    def __getitem__(self, key: str, /) -> Any: ...


def epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def story_to_json(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "url": story.url,
        "title": story.title,
        "summary": story.summary,
        "source": story.source,
        "published": epoch(story.published),
        "feed_url": story.feed_url,
    }


def story_from_json(data: dict[str, Any]) -> Story:
    published = data.get("published")
    when = datetime.fromtimestamp(published, UTC) if published is not None else None
    return Story(
        data["id"],
        data["url"],
        data["title"],
        data["summary"],
        data["source"],
        when,
        data.get("feed_url", ""),
    )


def encode_alert(alert: Alert) -> str:
    hits = [[h.term, h.field, h.text, h.start, h.similarity, h.concept] for h in alert.match.hits]
    return json.dumps(
        {
            "story": story_to_json(alert.story),
            "match": {"topic": alert.match.topic, "score": alert.match.score, "hits": hits},
            "cluster_reason": alert.cluster_reason,
            "timezone": alert.timezone,
            "parent_published": epoch(alert.parent_published),
        }
    )


def encode_post(post: Post) -> str:
    message = {"text": post.message.text, "blocks": post.message.blocks}
    return json.dumps({"message": message, "label": post.label})


def decode_post_message(row: Row) -> SlackMessage | None:
    """The prebuilt message of a Post row; None for a story's alert."""
    if row["kind"] == ALERT:
        return None
    data = json.loads(row["payload"])["message"]
    return SlackMessage(data["text"], data.get("blocks"))


def decode_alert(row: Row) -> Alert:
    """A row as an Alert; a Post row becomes an Alert whose story is the post's label, so the
    outbox's bookkeeping (id, topic, channel) treats both alike."""
    data = json.loads(row["payload"])
    if row["kind"] != ALERT:
        label = Story(row["id"], "", data.get("label", row["kind"]), "", "newsbot", None)
        return Alert(row["id"], row["topic"], row["channel"], label, Match(row["topic"], 0.0))
    parent_published = data.get("parent_published")
    match = Match(
        data["match"]["topic"],
        data["match"]["score"],
        tuple(TermHit(*hit) for hit in data["match"]["hits"]),
    )
    return Alert(
        row["id"],
        row["topic"],
        row["channel"],
        story_from_json(data["story"]),
        match,
        row["parent_id"],
        data.get("cluster_reason", ""),
        data.get("timezone", "UTC"),
        datetime.fromtimestamp(parent_published, UTC) if parent_published else None,
    )


def queued_alert(row: Row) -> QueuedAlert:
    """An outbox row (with its parent's `parent_ts` and `parent_channel_id` joined in)."""
    return QueuedAlert(
        row["seq"],
        decode_alert(row),
        AlertStatus(row["status"]),
        row["attempts"],
        row["next_attempt"],
        row["parent_ts"],
        row["parent_channel_id"],
        row["created"],
        decode_post_message(row),
    )


def alerted_report(row: Row) -> AlertedReport | None:
    """An earlier alert as clustering compares against it; None when its stored copy is damaged
    (it was set aside, never posted: nothing can be a reply to it), so polls go on."""
    try:
        story = story_from_json(json.loads(row["payload"])["story"])
    except UNREADABLE:
        return None
    return AlertedReport(row["parent_id"] or row["id"], story, row["published"], row["event_start"])


def _record_story(row: Row) -> dict[str, Any]:
    """The story fields `status` and `alerts` show; a damaged stored copy shows as such."""
    try:
        data = json.loads(row["payload"])
        if row["kind"] != ALERT:  # a roundup post: its label
            return {"title": str(data.get("label") or row["kind"]), "source": "newsbot"}
        story = data["story"]
        return {**story, "title": str(story["title"] or "")}
    except UNREADABLE:
        return {"title": f"({UNREADABLE_ALERT})"}


def alert_record(row: Row) -> AlertRecord:
    story = _record_story(row)
    return AlertRecord(
        row["id"],
        row["topic"],
        row["channel"],
        AlertStatus(row["status"]),
        row["created"],
        row["delivered"],
        row["channel_id"],
        row["ts"],
        row["last_error"] or "",
        story["title"],
        story.get("url") or "",
        story.get("source") or "",
        row["parent_id"],
    )


# The feedback table's columns, in the order `feedback_row` gives their values.
FEEDBACK_COLUMNS = (
    "alert_id", "topic", "channel", "story_id", "title", "summary", "url", "source", "published",
    "feed_url", "label", "relevant", "irrelevant", "voters", "updated",
)  # fmt: skip


def feedback_row(item: Feedback) -> tuple[Any, ...]:
    story, verdict = item.story, item.verdict
    return (
        item.alert_id,
        item.topic,
        item.channel,
        story.id,
        story.title,
        story.summary,
        story.url,
        story.source,
        epoch(story.published),
        story.feed_url,
        verdict.label,
        verdict.relevant,
        verdict.irrelevant,
        json.dumps(list(verdict.voters)),
        item.updated,
    )


def feedback_value(row: Row) -> Feedback:
    published = row["published"]
    when = datetime.fromtimestamp(published, UTC) if published is not None else None
    story = Story(
        row["story_id"],
        row["url"],
        row["title"],
        row["summary"],
        row["source"],
        when,
        row["feed_url"],
    )
    verdict = Verdict(
        row["label"], row["relevant"], row["irrelevant"], tuple(json.loads(row["voters"]))
    )
    return Feedback(row["alert_id"], row["topic"], row["channel"], story, verdict, row["updated"])
