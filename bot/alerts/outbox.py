"""Drain the alert outbox into Slack: in order per channel, paced, idempotent, nothing lost.

Contract of `Outbox.drain`:
- each channel's alerts go out in the order they were queued; a failure holds back that channel
  only (its later alerts wait behind it), never another channel;
- an alert is claimed from the store (`claim_next`: taken and marked `sending` in one atomic
  step, so no other deliverer can take it too) before the post and marked `sent` with Slack's
  ts after; one left
  `sending` (a crash, a timeout, a dropped connection) is first looked up in the channel's
  history by its metadata id, and only posted again when Slack does not have it;
- with replicas, a channel is delivered only by the replica holding its lease (`owns`,
  bot/state/leases.py), so each channel has one deliverer at a time and stays in order;
- retryable failures (5xx, timeouts, 429) keep the alert queued with exponential backoff; an auth
  failure stops all posting until it clears (logged once); a broken channel (not found, archived,
  bot not in it) parks that channel's alerts with the reason; a message Slack finds too long or
  malformed is sent again as a short plain-text fallback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.alerts.format import render_alert, render_fallback, render_reply
from bot.alerts.pacing import ChannelPacer
from bot.errors import DeliveryAction, DeliveryError, classify
from bot.models import Posted, SlackMessage
from bot.state.interface import AlertStatus, QueuedAlert, Store

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 15 * 60.0
AUTH_RETRY_DELAY = 10 * 60.0
HISTORY_SLACK = 120.0  # look this far before the alert was queued when searching Slack's history


class DeliveryReport(Protocol):
    """What the outbox reports as it works (bot.service.metrics.Metrics exports it)."""

    def delivered(self, topic: str, channel: str, seconds: float | None) -> None:
        """One alert is in Slack (`seconds`: the post took that long; None: found already there)."""

    def delivery_failed(self, channel: str, code: str) -> None: ...

    def outbox_depth_is(self, depth: int) -> None: ...


class Sender(Protocol):
    """Everything the outbox and the service ask of where alerts go: Slack
    (bot.slack.deliver.SlackSender) or the terminal (TerminalSender)."""

    workspace_url: str  # for links to posted alerts; "" when unknown or not Slack

    def post(
        self, alert_id: str, channel: str, message: SlackMessage, *, thread_ts: str | None = None
    ) -> Posted: ...

    def find_posted(
        self, channel: str, alert_id: str, *, oldest: float, thread_ts: str | None = None
    ) -> Posted | None: ...

    def join(self, channel: str) -> bool: ...

    def check_auth(self) -> str | None:
        """None when posting can work, else the error code (see bot.errors.classify)."""

    def close(self) -> None: ...


@dataclass
class DrainResult:
    sent: int = 0
    failed: int = 0
    parked: int = 0


def retry_delay(attempts: int) -> float:
    """5 s, 10 s, 20 s ... capped at 15 minutes: an outage of any length ends in delivery."""
    return float(min(5.0 * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY))


def _next_try_in(queued: QueuedAlert, exc: DeliveryError) -> float:
    """Backoff by attempts so far, never sooner than Slack's Retry-After."""
    return max(retry_delay(queued.attempts + 1), exc.retry_after or 0.0)


def _message(queued: QueuedAlert, thread_ts: str | None) -> SlackMessage:
    """A prebuilt post (digest, "and N more") as built; a story's alert rendered now."""
    if queued.message is not None:
        return queued.message
    return render_reply(queued.alert) if thread_ts else render_alert(queued.alert)


class Outbox:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        metrics: DeliveryReport,
        *,
        pacer: ChannelPacer | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
        dry_run: bool = False,
        owns: Callable[[str], bool] = lambda channel: True,
    ) -> None:
        self.store = store
        self.owns = owns  # may this process deliver this channel now? (a replica's lease)
        self.dry_run = dry_run  # the sender only prints: say "would post", never "delivered"
        self.sender = sender
        self.metrics = metrics
        self.pacer = pacer or ChannelPacer()
        self.clock = clock
        self.sleep = sleep
        self.auth_error: str | None = None
        self._auth_retry_at = 0.0

    def drain(
        self,
        *,
        stop: threading.Event | None = None,
        ignore_backoff: bool = False,
        held: set[str] | None = None,
    ) -> DrainResult:
        """Deliver every due alert; return when none is due (or `stop` is set).

        `ignore_backoff` (for `run --once`) tries every queued alert once, due or not. `held`:
        the channels to leave alone, added to as channels fail; several drains given one set
        act as one drain (`run --once` drains while it polls, then once more at the end: a
        channel that failed in one is not tried again in the next).
        """
        result = DrainResult()
        held = set() if held is None else held  # channels that failed: their later alerts wait
        # The channels with an alert due, as last read (True: just delivered, its next alert
        # not seen yet). A channel just delivered goes to the back and its next alert is claimed
        # when its turn comes: the claim reads the alert afresh, and finding none ends the
        # channel for this drain. The heads are read again only when no channel is left, not
        # once per alert.
        channels: dict[str, bool] = {}
        while not (stop is not None and stop.is_set()):
            if self.auth_error and self.clock() < self._auth_retry_at and not ignore_backoff:
                break
            if not channels:
                channels = self._due_channels(held, ignore_backoff)
                if not channels:
                    break
            if not self.owns(channel := self._next_channel(channels)):
                held.add(channel)  # another replica delivers it (a lease moved mid-drain)
                del channels[channel]
                continue
            wait = self.pacer.wait_time(channel, self.clock())
            if wait > 0:
                self.sleep(min(wait, 1.0))
                continue
            due_by = None if ignore_backoff else self.clock()
            claimed = self.store.claim_next(channel, due_by=due_by)
            if claimed is None:
                if not channels.pop(channel):
                    held.add(channel)  # taken or rescheduled since it was read: leave it be
                continue  # else: the channel's queue is done (or not due) for this drain
            del channels[channel]
            if self._deliver(claimed, result):
                channels[channel] = True
            else:
                held.add(channel)
                if self.auth_error:
                    break
        self.metrics.outbox_depth_is(self.store.outbox_depth())
        return result

    def _due_channels(self, held: set[str], ignore_backoff: bool) -> dict[str, bool]:
        """The channels not held whose oldest alert is due now (any, with `ignore_backoff`), in
        queue order, each False (its head not claimed yet); those another replica delivers are
        held."""
        channels: dict[str, bool] = {}
        for head in self.store.queued_heads():
            channel = head.alert.channel
            if channel in held or not (ignore_backoff or head.next_attempt <= self.clock()):
                continue
            if self.owns(channel):
                channels[channel] = False
            else:
                held.add(channel)  # another replica delivers it
        return channels

    def _next_channel(self, channels: dict[str, bool]) -> str:
        """The channel the pacer lets post soonest (the first in queue order among equals)."""
        now = self.clock()
        return min(channels, key=lambda channel: self.pacer.wait_time(channel, now))

    def _deliver(self, queued: QueuedAlert, result: DrainResult) -> bool:
        """Deliver a claimed alert (`queued` as it was before the claim)."""
        alert = queued.alert
        thread_ts = queued.parent_ts if alert.parent_id else None
        if queued.status == AlertStatus.SENDING:
            known = self._already_posted(queued, thread_ts)
            if known is None:
                result.failed += 1
                return False  # unknown: the channel waits, in order
            if known:
                result.sent += 1
                return True
        message = _message(queued, thread_ts)
        started = time.monotonic()
        try:
            posted = self._post(queued, message, thread_ts)
        except DeliveryError as exc:
            result.failed += 1
            return self._failed(queued, exc, result)
        self.pacer.record(alert.channel, self.clock())
        self.store.mark_sent(alert.id, posted.channel_id, posted.ts)
        self.metrics.delivered(alert.topic, alert.channel, time.monotonic() - started)
        self.auth_error = None
        result.sent += 1
        if self.dry_run:
            log.info(
                "would post alert",
                extra={"alert_id": alert.id, "channel": alert.channel, "topic": alert.topic},
            )
            return True
        log.info(
            "alert delivered",
            extra={
                "alert_id": alert.id,
                "channel": alert.channel,
                "topic": alert.topic,
                "ts": posted.ts,
                "thread_ts": thread_ts or "",
            },
        )
        return True

    def _post(self, queued: QueuedAlert, message: SlackMessage, thread_ts: str | None) -> Posted:
        alert = queued.alert
        try:
            return self.sender.post(alert.id, alert.channel, message, thread_ts=thread_ts)
        except DeliveryError as exc:
            action = classify(exc.code)
            if action == DeliveryAction.SHORTEN:
                log.warning(
                    "message refused, sending the short form",
                    extra={"alert_id": alert.id, "channel": alert.channel, "error": exc.code},
                )
                short = SlackMessage(message.text) if queued.message else render_fallback(alert)
                return self.sender.post(alert.id, alert.channel, short, thread_ts=thread_ts)
            if exc.code == "not_in_channel" and self.sender.join(alert.channel):
                log.info("joined channel", extra={"channel": alert.channel})
                return self.sender.post(alert.id, alert.channel, message, thread_ts=thread_ts)
            raise

    def _already_posted(self, queued: QueuedAlert, thread_ts: str | None) -> bool | None:
        """An earlier attempt's outcome is unknown: does Slack already have this alert?

        True: it does (now marked sent). False: it does not, post it. None: Slack could not say
        (history lookup failed for a passing reason): hold the alert, ask again later, and never
        risk a second post. A lookup that can never work (missing `channels:history` scope)
        falls back to posting, with a warning that exactly-once needs that scope.
        """
        alert = queued.alert
        try:
            found = self.sender.find_posted(
                alert.channel, alert.id, oldest=queued.created - HISTORY_SLACK, thread_ts=thread_ts
            )
        except DeliveryError as exc:
            if classify(exc.code) == DeliveryAction.RETRY:
                delay = _next_try_in(queued, exc)
                self.store.mark_retry(
                    alert.id, f"history lookup: {exc.code}", self.clock() + delay, unknown=True
                )
                log.warning(
                    "cannot tell whether Slack has the alert; holding it",
                    extra={
                        "alert_id": alert.id,
                        "channel": alert.channel,
                        "error": exc.code,
                        "retry_in_s": round(delay),
                    },
                )
                return None
            log.warning(
                "history lookup impossible; posting without the duplicate check "
                "(grant channels:history/groups:history for exactly-once)",
                extra={"alert_id": alert.id, "channel": alert.channel, "error": exc.code},
            )
            return False
        if found is None:
            return False
        self.store.mark_sent(alert.id, found.channel_id, found.ts)
        self.metrics.delivered(alert.topic, alert.channel, None)
        log.info(
            "alert was already posted; not posting again",
            extra={"alert_id": alert.id, "channel": alert.channel, "ts": found.ts},
        )
        return True

    def _failed(self, queued: QueuedAlert, exc: DeliveryError, result: DrainResult) -> bool:
        alert = queued.alert
        action = classify(exc.code)
        self.metrics.delivery_failed(alert.channel, exc.code)
        if action == DeliveryAction.AUTH:
            self._auth_failed(queued, exc)
        elif action == DeliveryAction.DROP:
            self.store.mark_failed(alert.id, exc.code)
            log.error(
                "Slack refused the alert; it is kept as failed (see `newsbot status`)",
                extra={"alert_id": alert.id, "channel": alert.channel, "error": exc.code},
            )
            return True  # the channel's later alerts go on
        elif action == DeliveryAction.PARK:
            parked = self.store.park_channel(alert.channel, exc.code)
            result.parked += parked
            log.error(
                "channel parked: its alerts wait until the channel is fixed",
                extra={"channel": alert.channel, "error": exc.code, "parked": parked},
            )
        else:
            unknown = exc.code in ("timeout", "connection") or exc.code.startswith("http_5")
            delay = _next_try_in(queued, exc)
            if exc.retry_after:
                self.pacer.defer(alert.channel, self.clock() + exc.retry_after)
            self.store.mark_retry(alert.id, exc.code, self.clock() + delay, unknown=unknown)
            log.warning(
                "delivery failed, will retry",
                extra={
                    "alert_id": alert.id,
                    "channel": alert.channel,
                    "error": exc.code,
                    "retry_in_s": round(delay),
                },
            )
        return False

    def _auth_failed(self, queued: QueuedAlert, exc: DeliveryError) -> None:
        if self.auth_error != exc.code:  # one clear error, not one per alert
            log.error(
                "Slack rejected the token: posting stopped, alerts stay queued. "
                "Fix SLACK_BOT_TOKEN and restart.",
                extra={"error": exc.code},
            )
        self.auth_error = exc.code
        self._auth_retry_at = self.clock() + AUTH_RETRY_DELAY
        self.store.mark_retry(queued.alert.id, exc.code, self._auth_retry_at, unknown=False)
