"""The planning stage: from one poll's matched stories to the alerts, replies and messages.

Contract: pure. `plan(...)` takes the poll's matches (story, topic, match), whether this is the
feed's first poll, the feed's policy, the time, and the channel's earlier reports (a function,
read by the caller inside its unit of work), and returns a `Plan`: the alerts to queue now, the
alerts held for a digest, the "and N more" posts, and the stories only marked seen. No I/O, no
clock, no store: the pipeline, `explain` and `eval --clusters` reach the same decisions through
these functions (`eval --clusters` through `cluster.decide` and `cluster.report_of`, which
`cluster_decision` calls).

The rules, each once: alert identity (`alert_id`: one alert per story and channel, across feeds
and restarts); the first-poll and per-poll-cap admission (`bot/alerts/admission.py`), applied to
realtime and digest topics apart; one alert per channel when two topics route a story there; and
clustering (a later report of an alerted event becomes a thread reply, also within one batch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.alerts import admission
from bot.alerts.admission import PollPolicy, Skipped
from bot.alerts.roundup import render_more
from bot.matching import cluster
from bot.models import DIGEST, Alert, Match, Post, Story, Topic

Candidate = tuple[Story, Topic, Match]
# (channel, since, the story's URL, its profile when blocking) -> the reports a story is decided
# against. With a profile the reader may leave out the reports that could not fold the story
# (blocking's tests, see `cluster.decide`): the decision is the same.
Reports = Callable[[str, float, str, cluster.Profile | None], list[cluster.PriorReport]]


@dataclass(frozen=True, slots=True)
class Intake:
    """One poll's matches after the admission rule (bot/alerts/admission.py)."""

    chosen: list[Candidate]  # to alert now, or to hold for a digest
    skipped: list[Skipped[Story]]  # first poll: too old or undated; only marked seen
    overflow: list[Candidate]  # over the per-poll cap: listed in an "and N more" message


@dataclass(frozen=True, slots=True)
class Plan:
    """What one poll turns into."""

    alerts: list[Alert]  # to queue now (a reply has its parent_id)
    held: list[Alert]  # for a digest topic's next digest
    posts: list[Post]  # "and N more" messages, queued behind the alerts
    intake: Intake


def alert_id(channel: str, story: Story) -> str:
    """Stable across restarts and feeds: the same story in the same channel is one alert."""
    return hashlib.sha256(f"{channel}\n{story.key}".encode()).hexdigest()[:24]


def is_digest(topic: Topic) -> bool:
    return topic.delivery == DIGEST


def plan(
    matched: Sequence[Candidate],
    *,
    first_poll: bool,
    policy: PollPolicy,
    now: float,
    reports: Reports,
    source: str,
    blocking: bool = False,
) -> Plan:
    """The whole decision for one poll; `source` names the feed in "and N more" messages."""
    intake = admit(matched, first_poll=first_poll, policy=policy, now=now)
    planned = plan_alerts(intake.chosen, reports, now, blocking=blocking)
    digests = {topic.name for _, topic, _ in intake.chosen if is_digest(topic)}
    return Plan(
        [alert for alert in planned if alert.topic not in digests],
        [alert for alert in planned if alert.topic in digests],
        more_posts(source, intake.overflow, policy),
        intake,
    )


def admit(
    matched: Sequence[Candidate], *, first_poll: bool, policy: PollPolicy, now: float
) -> Intake:
    """Apply the admission rule (first-poll window, per-poll cap) to the matched stories.

    Stories for realtime topics and for digest topics are admitted apart: a digest topic's
    stories over the cap are held for its digest rather than listed in an "and N more" message.
    """
    when = datetime.fromtimestamp(now, UTC)
    chosen: set[tuple[str, bool]] = set()
    over: set[tuple[str, bool]] = set()
    skipped: dict[str, Skipped[Story]] = {}
    for digest in (False, True):
        stories = {c[0].id: c[0] for c in matched if is_digest(c[1]) == digest}
        decision = admission.admit(
            [(story, story.published) for story in stories.values()],
            first_poll=first_poll,
            now=when,
            policy=policy,
        )
        chosen.update((story.id, digest) for story in decision.alert)
        (chosen if digest else over).update((story.id, digest) for story in decision.overflow)
        skipped.update((entry.item.id, entry) for entry in decision.skipped)
    return Intake(
        [c for c in matched if (c[0].id, is_digest(c[1])) in chosen],
        list(skipped.values()),
        [c for c in matched if (c[0].id, is_digest(c[1])) in over],
    )


def more_posts(source: str, overflow: Sequence[Candidate], policy: PollPolicy) -> list[Post]:
    """One "and N more" message per channel for the stories the per-poll cap held back."""
    by_channel: dict[str, dict[str, tuple[Story, Topic]]] = {}
    for story, topic, _ in overflow:
        for channel in topic.channels:
            by_channel.setdefault(channel, {}).setdefault(story.key, (story, topic))
    return [
        render_more(
            channel,
            [topic.name for _, topic in listed.values()],
            source,
            [story for story, _ in listed.values()],
            policy.max_alerts_per_poll,
            next(iter(listed.values()))[1].timezone,
        )
        for channel, listed in by_channel.items()
    ]


def plan_alerts(
    candidates: Sequence[Candidate], reports: Reports, now: float, *, blocking: bool = False
) -> list[Alert]:
    """One alert per (story, channel); a later report of an alerted event becomes a reply.

    Alerts planned earlier in the same batch count as prior reports for the later ones, so five
    reports of one event in one feed fold into one top-level alert too. `blocking`: see
    `cluster.decide` (the decisions are the same).
    """
    planned: list[Alert] = []
    for story, topic, match in candidates:
        for channel in topic.channels:
            key = alert_id(channel, story)
            if any(alert.id == key for alert in planned):
                continue  # two topics routing one story to one channel: one alert
            fold = (
                cluster_decision(story, topic, channel, reports, planned, now, blocking=blocking)
                if topic.cluster.enabled
                else cluster.ClusterDecision(None, 0.0, "")
            )
            planned.append(
                Alert(
                    key,
                    topic.name,
                    channel,
                    story,
                    match,
                    fold.parent_id,
                    fold.reason if fold.parent_id else "",
                    topic.timezone,
                    fold.parent_published,
                )
            )
    return planned


def cluster_decision(
    story: Story,
    topic: Topic,
    channel: str,
    reports: Reports,
    planned: Sequence[Alert],
    now: float,
    *,
    blocking: bool = False,
) -> cluster.ClusterDecision:
    """Does `story` report an event already alerted in `channel`? (also used by `explain`)"""
    settings = topic.cluster
    since = now - settings.window_hours * 3600 * 2  # the decision applies the window itself
    like = cluster.profile(story.title, story.summary) if blocking else None
    prior = list(reports(channel, since, story.url, like))
    for alert in planned:
        if alert.channel == channel:
            published = alert.story.published.timestamp() if alert.story.published else now
            when = datetime.fromtimestamp(published or now, UTC)
            root = alert.parent_id or alert.id
            prior.append(cluster.report_of(root, alert.story, when, alert.parent_published))
    return cluster.decide(
        story, prior, settings, datetime.fromtimestamp(now, UTC), blocking=blocking
    )
