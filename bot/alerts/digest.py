"""Digests: when each is due, and cutting one (held stories -> queued digest messages).

A topic with `delivery: digest` has its matched stories held in the store (status `held`). At
the topic's scheduled time (the service, an APScheduler 3 CronTrigger in the digest's time zone)
or on `newsbot digest`, `cut` builds the digest of each channel (bot/alerts/roundup.py) and, in ONE
transaction, queues its messages in the outbox and marks the stories it lists `digested`. From
there the outbox posts each message exactly once, as it does alerts: its own id in the message
metadata, looked up in the channel's history before any re-send of an unknown outcome. A topic
with nothing held posts nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.alerts.roundup import render_digest
from bot.models import DIGEST, Alert, DigestSchedule, Topic
from bot.state.interface import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """One channel's digest of one topic, as queued."""

    topic: str
    channel: str
    stories: int
    messages: int


def digest_topics(topics: tuple[Topic, ...]) -> list[Topic]:
    return [topic for topic in topics if topic.delivery == DIGEST and topic.digest is not None]


def leftover_topics(topics: tuple[Topic, ...], held: dict[str, int]) -> list[Topic]:
    """Topics switched back to realtime that still hold stories from their digest days: those
    stories go out in one last digest rather than waiting for ever."""
    return [topic for topic in topics if topic.delivery != DIGEST and held.get(topic.name)]


def trigger(schedule: DigestSchedule) -> CronTrigger:
    """The one schedule rule, used by the service and by `status`'s "next digest"."""
    return CronTrigger(
        day_of_week=",".join(schedule.days),
        hour=schedule.hour,
        minute=schedule.minute,
        timezone=ZoneInfo(schedule.timezone),
    )


def next_time(schedule: DigestSchedule, now: datetime) -> datetime | None:
    """When the digest is next due after `now` (aware), in the digest's time zone."""
    fire: datetime | None = trigger(schedule).get_next_fire_time(None, now)
    return fire


def cut(store: Store, topic: Topic) -> list[DigestOutcome]:
    """Queue the digest of every story held for `topic`, one per channel; [] when none is held."""
    zone = topic.digest.timezone if topic.digest else topic.timezone
    outcomes = []
    with store.digest(topic.name) as tx:
        by_channel: dict[str, list[Alert]] = {}
        for alert in tx.held():
            by_channel.setdefault(alert.channel, []).append(alert)
        for channel, alerts in by_channel.items():
            posts = render_digest(topic.name, channel, alerts, zone)
            taken = tx.cut(posts, [alert.id for alert in alerts])
            outcomes.append(DigestOutcome(topic.name, channel, taken, len(posts)))
    for outcome in outcomes:
        log.info(
            "digest queued",
            extra={
                "topic": outcome.topic,
                "channel": outcome.channel,
                "stories": outcome.stories,
                "messages": outcome.messages,
            },
        )
    return outcomes
