"""Feedback from readers: Slack reactions on alerts become labels for `newsbot eval`.

A reader marks an alert with a reaction; `REACTION_LABELS` is the one table of which emoji mean
what. The bot has no public endpoint, so it polls: `FeedbackSync.sync()` reads the reactions on
the alerts it delivered in the last N days and keeps one verdict per alert in the store, with the
story. `newsbot feedback export` writes them as the labelled JSON lines `newsbot eval` reads.

Contract:
- `decide(reactions, previous)` is the pure rule. Votes per label are the distinct users Slack
  names plus any votes it counted but left out of a cut list. More votes wins. On a tie the
  newest wins: the label with a vote first seen in this sync; when both or neither have one, the
  previous verdict stands; with no previous verdict, the label whose emoji Slack lists last (it
  lists a message's reactions in the order they were first added). No labelled reaction: None,
  and a verdict whose reactions were all removed is forgotten (the latest state wins).
- A sync reads one conversations.history page per channel (more only for a channel with more
  than 200 messages since its oldest alert in the window), and one conversations.replies per
  thread holding thread-reply alerts: never one call per alert. Calls are paced under Slack's
  Tier 3 limit for these methods (50+ a minute, https://api.slack.com/docs/rate-limits), a 429 is
  waited out by the Slack client (Retry-After) and, if it persists, ends the sync: the next one
  tries again.
- Errors never stop the bot. A channel that cannot be read (missing_scope, not_in_channel,
  channel_not_found, ...) is skipped with one clear log line per channel and cause, not one per
  sync; a token Slack rejects ends the sync. Messages not found in Slack keep their verdict.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from bot.alerts.pacing import ChannelPacer
from bot.errors import DeliveryAction, DeliveryError, classify
from bot.models import Feedback, ReactedMessage, Reaction, Verdict
from bot.state.interface import PostedAlert, Store

log = logging.getLogger(__name__)

RELEVANT, IRRELEVANT = "relevant", "irrelevant"
LABELS = (RELEVANT, IRRELEVANT)

# Which reactions are a verdict. Slack reports :thumbsup:/:thumbsdown: as "+1"/"-1"; both
# spellings are here so the table reads as the README documents it.
REACTION_LABELS: Mapping[str, str] = {
    "-1": IRRELEVANT,
    "thumbsdown": IRRELEVANT,
    "x": IRRELEVANT,
    "+1": RELEVANT,
    "thumbsup": RELEVANT,
    "white_check_mark": RELEVANT,
    "heavy_check_mark": RELEVANT,
}

SYNC_META_KEY = "feedback_last_sync"
# Slack's Tier 3 (conversations.history, conversations.replies) allows 50+ calls a minute per
# workspace; 40 a minute with bursts of 10 leaves room for the outbox's own history lookups.
CALLS_PER_SECOND = 40 / 60
CALL_BURST = 10
_SKIN_TONE = re.compile(r"::skin-tone-\d+$")


def reaction_label(name: str) -> str | None:
    """The label a reaction stands for ("relevant"/"irrelevant"), or None for other emoji."""
    return REACTION_LABELS.get(_SKIN_TONE.sub("", name.strip(":").lower()))


def decide(reactions: Sequence[Reaction], previous: Verdict | None) -> Verdict | None:
    """The readers' verdict on one alert from its reactions now (see the module docstring)."""
    users: dict[str, set[str]] = {label: set() for label in LABELS}
    uncounted = dict.fromkeys(LABELS, 0)
    last_listed: str | None = None
    for reaction in reactions:
        label = reaction_label(reaction.name)
        if label is None:
            continue
        users[label].update(reaction.users)
        uncounted[label] += max(0, reaction.count - len(set(reaction.users)))
        last_listed = label
    if last_listed is None:
        return None
    votes = {label: len(users[label]) + uncounted[label] for label in LABELS}
    if not any(votes.values()):
        return None
    voters = tuple(sorted(f"{label}:{user}" for label in LABELS for user in users[label]))
    label = _winner(votes, voters, previous, last_listed)
    return Verdict(label, votes[RELEVANT], votes[IRRELEVANT], voters)


def _winner(
    votes: dict[str, int], voters: tuple[str, ...], previous: Verdict | None, last_listed: str
) -> str:
    if votes[RELEVANT] != votes[IRRELEVANT]:
        return RELEVANT if votes[RELEVANT] > votes[IRRELEVANT] else IRRELEVANT
    known = set(previous.voters) if previous is not None else set()
    fresh = {voter.split(":", 1)[0] for voter in voters if voter not in known}
    if len(fresh) == 1:
        return fresh.pop()
    return previous.label if previous is not None else last_listed


# -- export ------------------------------------------------------------------------------------


def export_item(feedback: Feedback) -> dict[str, Any]:
    """One labelled JSON line in the format `newsbot eval` reads, plus the topic."""
    story = feedback.story
    published = story.published.strftime("%Y-%m-%dT%H:%M:%SZ") if story.published else None
    return {
        "id": feedback.alert_id,
        "title": story.title,
        "summary": story.summary,
        "source": story.source,
        "published": published,
        "url": story.url,
        "label": feedback.verdict.label,
        "topic": feedback.topic,
    }


def export_line(feedback: Feedback) -> str:
    return json.dumps(export_item(feedback), ensure_ascii=False) + "\n"


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float) -> float:
    """`7d`, `12h`, `30m`, `2w` (ago), or a date/time `2026-11-01[T09:00[Z]]` (UTC if no zone).

    Raises ValueError with a message that says what is accepted.
    """
    value = text.strip().lower()
    age = _AGE.fullmatch(value)
    if age:
        return now - float(age.group(1)) * _UNIT_SECONDS[age.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"expected an age like 7d, 12h, 30m, 2w or a date like 2026-11-01, got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


# -- syncing -----------------------------------------------------------------------------------


class ReactionReader(Protocol):
    """What a sync needs from Slack (bot.slack.deliver.SlackSender)."""

    def channel_reactions(self, channel_id: str, oldest: float) -> list[ReactedMessage]: ...

    def thread_reactions(self, channel_id: str, thread_ts: str) -> list[ReactedMessage]: ...


@dataclass
class SyncReport:
    """What one sync did; `problems` name each channel that could not be read, and why."""

    alerts: int = 0
    channels: int = 0
    calls: int = 0
    changed: int = 0
    cleared: int = 0
    problems: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the sync ended early (rate limit, rejected token)

    def line(self) -> str:
        text = (
            f"read reactions on {self.alerts} alerts in {self.channels} channels "
            f"({self.calls} Slack calls): {self.changed} verdicts new or changed, "
            f"{self.cleared} cleared"
        )
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        if self.problems:
            text += "; not read: " + "; ".join(self.problems)
        return text

    @property
    def ok(self) -> bool:
        return not self.problems and self.stopped is None


class _Stop(Exception):
    """Ends a sync early: Slack keeps rate limiting, or rejects the token."""


class FeedbackSync:
    """Reads reactions on recent alerts and records the verdicts. One instance per process."""

    def __init__(
        self,
        store: Store,
        reader: ReactionReader,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.store = store
        self.reader = reader
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.pacer = ChannelPacer(rate=CALLS_PER_SECOND, burst=CALL_BURST)
        self._reported: set[tuple[str, str]] = set()  # (channel, code) already logged

    def sync(self, days: float) -> SyncReport:
        """Read the reactions on alerts delivered in the last `days` days; record verdicts."""
        now = self.clock()
        posted = self.store.posted_since(now - days * 86400)
        report = SyncReport(alerts=len(posted))
        seen: dict[tuple[str, str], ReactedMessage] = {}
        by_channel: dict[str, list[PostedAlert]] = defaultdict(list)
        for alert in posted:
            by_channel[alert.channel_id].append(alert)
        try:
            for alerts in by_channel.values():
                report.channels += 1
                self._read_channel(alerts, seen, report)
        except _Stop as stop:
            report.stopped = str(stop)
        self._record(posted, seen, report)
        self.store.set_meta(SYNC_META_KEY, json.dumps({"at": now, "line": report.line()}))
        return report

    def _read_channel(
        self,
        alerts: list[PostedAlert],
        seen: dict[tuple[str, str], ReactedMessage],
        report: SyncReport,
    ) -> None:
        channel, channel_id = alerts[0].channel, alerts[0].channel_id
        top = [float(a.ts) for a in alerts if a.thread_ts is None]
        oldest = min(top) - 1.0 if top else 0.0  # `oldest` is exclusive: a second of margin
        threads = sorted({a.thread_ts for a in alerts if a.thread_ts is not None})
        reads: list[str | None] = ([None] if top else []) + list(threads)
        for thread_ts in reads:
            read = partial(self._read, channel_id, oldest, thread_ts)
            messages = self._call(
                channel, "history" if thread_ts is None else "replies", read, report
            )
            if messages is None:
                return  # this channel cannot be read now; the others go on
            for message in messages:
                seen[(channel_id, message.ts)] = message
        self._reported = {key for key in self._reported if key[0] != channel}  # it works again

    def _read(self, channel_id: str, oldest: float, thread_ts: str | None) -> list[ReactedMessage]:
        if thread_ts is None:
            return self.reader.channel_reactions(channel_id, oldest)
        return self.reader.thread_reactions(channel_id, thread_ts)

    def _call(
        self,
        channel: str,
        method: str,
        read: Callable[[], list[ReactedMessage]],
        report: SyncReport,
    ) -> list[ReactedMessage] | None:
        wait = self.pacer.wait_time(method, self.monotonic())
        if wait > 0:
            self.sleep(wait)
        self.pacer.record(method, self.monotonic())
        report.calls += 1
        try:
            return read()
        except DeliveryError as exc:
            self._failed(channel, exc, report)
            return None

    def _failed(self, channel: str, exc: DeliveryError, report: SyncReport) -> None:
        action = classify(exc.code)
        why = _why(exc)
        if exc.code in ("ratelimited", "rate_limited"):
            log.warning(
                "feedback: Slack keeps rate limiting; the next sync goes on",
                extra={"channel": channel, "retry_after": exc.retry_after},
            )
            raise _Stop("rate limited by Slack")
        if action == DeliveryAction.AUTH and exc.code != "missing_scope":
            self._log_once(
                channel, exc.code, "feedback: Slack rejected the token; reactions are not read", why
            )
            raise _Stop(f"Slack rejected the token ({exc.code})")
        report.problems.append(f"{channel}: {why}")
        if action == DeliveryAction.RETRY:
            log.warning(
                "feedback: cannot read reactions now; trying next sync",
                extra={"channel": channel, "error": exc.code},
            )
            return
        self._log_once(
            channel,
            exc.code,
            "feedback: cannot read reactions in this channel; it is skipped until this is fixed",
            why,
        )

    def _log_once(self, channel: str, code: str, event: str, why: str) -> None:
        if (channel, code) in self._reported:
            return
        self._reported.add((channel, code))
        log.error(event, extra={"channel": channel, "error": code, "fix": why})

    def _record(
        self,
        posted: list[PostedAlert],
        seen: dict[tuple[str, str], ReactedMessage],
        report: SyncReport,
    ) -> None:
        now = self.clock()
        previous = self.store.feedback_for([alert.alert_id for alert in posted])
        changed: list[Feedback] = []
        cleared: list[str] = []
        for alert in posted:
            message = seen.get((alert.channel_id, alert.ts))
            if message is None:
                continue  # not read (error, deleted, beyond the pages read): keep what we have
            before = previous.get(alert.alert_id)
            verdict = decide(message.reactions, before.verdict if before else None)
            if verdict is None and before is not None:
                cleared.append(alert.alert_id)
            elif verdict is not None and (before is None or before.verdict != verdict):
                changed.append(
                    Feedback(alert.alert_id, alert.topic, alert.channel, alert.story, verdict, now)
                )
        self.store.save_feedback(changed, cleared)
        report.changed, report.cleared = len(changed), len(cleared)
        for item in changed:
            log.info(
                "feedback recorded",
                extra={
                    "alert_id": item.alert_id,
                    "topic": item.topic,
                    "channel": item.channel,
                    "label": item.verdict.label,
                    "relevant": item.verdict.relevant,
                    "irrelevant": item.verdict.irrelevant,
                },
            )


def _why(exc: DeliveryError) -> str:
    """The cause in words an admin can act on."""
    if exc.code == "missing_scope":
        needed = exc.needed or "channels:history (public) / groups:history (private channels)"
        return f"missing_scope: add the {needed} scope to the Slack app and reinstall it"
    if exc.code == "not_in_channel":
        return "not_in_channel: invite the bot to the channel"
    if exc.code == "channel_not_found":
        return "channel_not_found: the channel was deleted or the bot cannot see it"
    return exc.code


def last_sync(store: Store) -> tuple[float, str] | None:
    """(when, summary line) of the last recorded sync, if any."""
    raw = store.meta(SYNC_META_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return float(data["at"]), str(data["line"])
    except (ValueError, KeyError, TypeError):
        return None
