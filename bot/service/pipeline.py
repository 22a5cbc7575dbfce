"""The coordinator of one feed's poll: fetch -> parse -> unseen -> match -> plan -> record.

It holds no business logic of its own: what becomes an alert, a reply, a digest item or an
"and N more" message is decided by the pure planning stage (`bot/alerts/plan.py`); the store's
unit of work records it in one transaction. Its one job beyond calling them in order is
containment: whatever goes wrong with one feed is recorded against that feed (with backoff) and
never reaches the other feeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.alerts.admission import PollPolicy
from bot.alerts.plan import Candidate, Intake, Reports, plan
from bot.config import Config
from bot.errors import FeedGone, FetchError, ParseError, StoreError, clip
from bot.feeds.fetch import Fetcher
from bot.feeds.parse import parse_feed
from bot.feeds.urls import redact_url
from bot.matching.cluster_index import ReportIndex, prior_report
from bot.matching.cluster_index import Reports as IndexReads
from bot.matching.match import Matcher
from bot.models import Alert, FeedSpec, FetchResult, Post, Story
from bot.service.metrics import Metrics
from bot.state.interface import Store

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The running configuration: the config and the matcher compiled from it. A reload builds
    a new one and swaps it in with one assignment; a poll reads it once, so it never sees half
    of an old configuration and half of a new one."""

    config: Config
    matcher: Matcher


class Runtime:
    """What a poll needs: the running configuration (`snapshot`) and the service's parts."""

    def __init__(
        self,
        config: Config,
        matcher: Matcher,
        store: Store,
        fetcher: Fetcher,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        on_queued: Callable[[], None] = lambda: None,
        reports: ReportIndex | None = None,
    ) -> None:
        self.snapshot = Snapshot(config, matcher)
        self.store = store
        self.fetcher = fetcher
        self.metrics = metrics
        self.clock = clock
        self.on_queued = on_queued  # wakes the outbox
        self.reports = reports  # recent alerts per channel; made on first use

    @property
    def config(self) -> Config:
        """The running config, for code that reads it once (a poll takes `snapshot`)."""
        return self.snapshot.config

    def report_index(self) -> ReportIndex:
        if self.reports is None:
            self.reports = ReportIndex(self.clock)
        return self.reports

    def prune(self, retention_days: float) -> tuple[int, int]:
        """`Store.prune`, and the clustering index reads what the store still holds."""
        seen, alerts = self.store.prune(retention_days)
        if alerts and self.reports is not None:
            self.reports.reload(self.store)
        return seen, alerts


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_url: str
    status: str  # ok | not_modified | failed | disabled | skipped | cancelled
    new_stories: int = 0
    queued: int = 0
    error: str = ""
    alerts: tuple[Alert, ...] = field(default=())
    skipped: tuple[tuple[str, str], ...] = ()  # (headline, why) only marked seen: a first poll
    overflow: int = 0  # stories over the per-poll cap, listed in an "and N more" message
    held: int = 0  # stories held for a digest
    kind: str = ""  # why it failed: a FetchError kind (dns, timeout, http, ...), parse, gone


def backoff_delay(interval: int, failures: int, retry_after: float | None) -> float:
    """Exponential in the number of consecutive failures, capped; never sooner than Retry-After."""
    delay: float = min(interval * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)
    return max(delay, retry_after or 0.0)


def poll_feed(rt: Runtime, feed: FeedSpec, *, force: bool = False) -> PollOutcome:
    """Poll one feed and queue its alerts. Never raises for a feed's own failure."""
    state = rt.store.feed_state(feed.url)
    if state.disabled:
        return PollOutcome(feed.url, "disabled", error=state.last_error or "disabled")
    if not force and state.next_due > rt.clock() + 1:
        return PollOutcome(feed.url, "skipped")
    started = time.monotonic()
    try:
        return _poll(rt, feed, state.etag, state.last_modified, state.initialized)
    except FeedGone as exc:
        return _failed(rt, feed, exc, "gone", disable=True)
    except FetchError as exc:
        if exc.kind == "cancelled":  # the service is stopping: not the feed's failure
            return PollOutcome(feed.url, "cancelled", error=str(exc))
        return _failed(rt, feed, exc, exc.kind, retry_after=exc.retry_after)
    except ParseError as exc:
        return _failed(rt, feed, exc, "parse")
    except StoreError:
        raise  # the state is broken: the service must say so, not carry on
    except Exception as exc:  # a bug in one feed's handling must not stop the others
        log.exception("poll crashed", extra={"feed_url": redact_url(feed.url)})
        return _failed(rt, feed, exc, "internal")
    finally:
        rt.metrics.poll_seconds.observe(time.monotonic() - started)


def _poll(
    rt: Runtime, feed: FeedSpec, etag: str | None, last_modified: str | None, initialized: bool
) -> PollOutcome:
    result = rt.fetcher.fetch(feed.url, etag=etag, last_modified=last_modified)
    rt.metrics.feeds_polled.labels(feed=_label(rt, feed)).inc()
    if result.not_modified or result.body is None:
        return _not_modified(rt, feed, result)
    parsed = parse_feed(
        result.body, feed_url=feed.url, content_type=result.content_type, source_name=feed.name
    )
    new = rt.store.unseen(feed.url, parsed.stories)
    rt.metrics.stories_seen.inc(len(new))
    running = rt.snapshot  # once: a reload during this poll applies from the next one
    policy = running.config.policy_for(feed)
    # Pure, so outside the write transaction, which the other polls wait on.
    matched = _matched(rt, running, feed, new)
    with rt.store.poll(feed.url) as tx:
        decided = plan(
            matched,
            first_poll=not initialized,
            policy=policy,
            now=rt.clock(),
            reports=indexed_reports(rt.report_index(), tx),
            source=feed.name or parsed.title or feed.url,
            blocking=True,
        )
        recorded = tx.record(
            title=parsed.title,
            etag=result.etag,
            last_modified=result.last_modified,
            stories=new,
            alerts=decided.alerts,
            held=decided.held,
            posts=decided.posts,
            next_due=0.0,
        )
    intake, posts = decided.intake, decided.posts
    held_ids = {alert.id for alert in decided.held}
    _healthy(rt, feed)
    _log_admission(feed, intake, policy, posts)
    queued = [alert for alert in recorded if alert.id not in held_ids]
    held = [alert for alert in recorded if alert.id in held_ids]
    for alert in decided.alerts + decided.held:
        if alert.parent_id:
            log.info(
                "folded into earlier alert",
                extra={
                    "channel": alert.channel,
                    "alert_id": alert.parent_id,
                    "reason": alert.cluster_reason,
                },
            )
    for alert in queued:
        rt.metrics.alerts_queued.labels(topic=alert.topic, channel=alert.channel).inc()
        log.info(
            "alert queued",
            extra={
                "feed_url": redact_url(feed.url),
                "topic": alert.topic,
                "channel": alert.channel,
                "alert_id": alert.id,
                "parent_id": alert.parent_id or "",
                "score": round(alert.match.score, 1),
                "terms": ", ".join(alert.match.terms),
            },
        )
    log.log(
        logging.INFO if new or posts else logging.DEBUG,  # quiet polls: see `_not_modified`
        "polled",
        extra={
            "feed_url": redact_url(feed.url),
            "status": result.status,
            "elapsed_ms": result.elapsed_ms,
            "stories": len(parsed.stories),
            "new": len(new),
            "queued": len(queued),
            "skipped_old": len(intake.skipped),
            "overflow": len(intake.overflow),
            "held": len(held),
        },
    )
    if queued or posts:
        rt.on_queued()
    return PollOutcome(
        feed.url,
        "ok",
        len(new),
        len(queued),
        alerts=tuple(queued),
        skipped=tuple((s.item.title, s.reason) for s in intake.skipped),
        overflow=len({story.key for story, _, _ in intake.overflow}),
        held=len(held),
    )


def _not_modified(rt: Runtime, feed: FeedSpec, result: FetchResult) -> PollOutcome:
    rt.metrics.not_modified.labels(feed=_label(rt, feed)).inc()
    rt.store.record_not_modified(feed.url, 0.0)
    _healthy(rt, feed)
    log.debug(  # a quiet poll: the service logs one summary line per interval
        "not modified",
        extra={
            "feed_url": redact_url(feed.url),
            "status": result.status,
            "elapsed_ms": result.elapsed_ms,
        },
    )
    return PollOutcome(feed.url, "not_modified")


def _matched(
    rt: Runtime, running: Snapshot, feed: FeedSpec, new: Sequence[Story]
) -> list[Candidate]:
    """Every (story, topic, match) of the new stories, for the topics this feed serves."""
    topics = {topic.name: topic for topic in running.config.topics_for(feed)}
    matched = []
    for story in new:
        for match in running.matcher.match(story.title, story.summary):
            if match.topic in topics:
                rt.metrics.matches.labels(topic=match.topic).inc()
                matched.append((story, topics[match.topic], match))
    return matched


def _log_admission(feed: FeedSpec, intake: Intake, policy: PollPolicy, posts: list[Post]) -> None:
    if intake.skipped:
        log.info(
            "first poll: older or undated stories only marked seen",
            extra={
                "feed_url": redact_url(feed.url),
                "skipped": len(intake.skipped),
                "backfill_hours": policy.backfill_hours,
            },
        )
        for entry in intake.skipped:
            log.debug(
                "not alerted",
                extra={
                    "feed_url": redact_url(feed.url),
                    "title": entry.item.title,
                    "reason": entry.reason,
                },
            )
    if intake.overflow:
        log.info(
            "over the per-poll cap: the rest listed in an 'and N more' message",
            extra={
                "feed_url": redact_url(feed.url),
                "overflow": len({story.key for story, _, _ in intake.overflow}),
                "max_alerts_per_poll": policy.max_alerts_per_poll,
                "posts": ",".join(post.id for post in posts),
            },
        )


def indexed_reports(index: ReportIndex, tx: IndexReads) -> Reports:
    """The reports one poll plans against, from the index: brought up to date once per poll,
    not once per story, since nothing is recorded while the poll's unit of work plans."""
    index.catch_up(tx)
    return lambda channel, since, url, like: index.reports(
        tx, channel, since, url, refresh=False, like=like
    )


def stored_reports(store: Store) -> Reports:
    """The reports of `Store.prior_reports`, read afresh (the poll reads `ReportIndex`)."""
    return lambda channel, since, url, like: [
        prior_report(report) for report in store.prior_reports(channel, since)
    ]


def _failed(
    rt: Runtime,
    feed: FeedSpec,
    exc: Exception,
    kind: str,
    *,
    retry_after: float | None = None,
    disable: bool = False,
) -> PollOutcome:
    state = rt.store.feed_state(feed.url)
    delay = backoff_delay(feed.interval, state.consecutive_failures + 1, retry_after)
    message = clip(str(exc))
    if kind == "gone":
        message = f"{message} (feed disabled: the server says it is gone)"
    failures = rt.store.record_failure(feed.url, message, rt.clock() + delay, disable=disable)
    rt.metrics.fetch_errors.labels(kind=kind).inc()
    rt.metrics.feed_consecutive_failures.labels(feed=_label(rt, feed)).set(failures)
    level = logging.ERROR if disable else logging.WARNING
    log.log(
        level,
        "feed failed",
        extra={
            "feed_url": redact_url(feed.url),
            "kind": kind,
            "error": message,
            "failures": failures,
            "retry_in_s": 0 if disable else round(delay),
        },
    )
    return PollOutcome(feed.url, "disabled" if disable else "failed", error=message, kind=kind)


def _healthy(rt: Runtime, feed: FeedSpec) -> None:
    rt.metrics.feed_consecutive_failures.labels(feed=_label(rt, feed)).set(0)
    rt.metrics.feed_last_success_timestamp.labels(feed=_label(rt, feed)).set(rt.clock())


def _label(rt: Runtime, feed: FeedSpec) -> str:
    """The feed's /metrics label: its name, or its redacted URL; never a credential."""
    return rt.metrics.feed_label(feed.name, feed.url)
