"""The long-running service and the one-shot run: wiring, schedule, reload, shutdown.

- one APScheduler job per feed (its interval plus jitter, `max_instances=1`, coalescing) on a
  bounded thread pool, so one slow or broken feed never blocks the others and never holds more
  than one worker; a poll never outlives the fetch deadline (`bot.feeds.guard`'s watchdog); the
  reload and prune jobs have their own small pool, so feeds can never starve them;
- one delivery thread draining the outbox, woken when a poll queues alerts;
- with a Slack token, a job reading readers' reactions on recent alerts every
  `defaults.feedback_interval` seconds (bot/slack/feedback.py);
- a watcher that reloads the configuration when its files change: a valid edit is applied without
  a restart (feeds added, removed, re-timed; topics rebuilt), an invalid one is logged once with
  the same message `newsbot check` gives and the running configuration stays;
- with PostgreSQL state, replicas share the work through leases (bot/state/leases.py): a feed is
  polled only by the replica holding its lease, a periodic job (prune, digest, reading
  reactions) runs in one replica per slot, a heartbeat renews the leases; an unreachable
  database skips the work (not fatal) and makes /readyz fail;
- SIGTERM/SIGINT: stop scheduling, cut in-flight fetches off at once (a stuck server never
  delays shutdown; the cut poll is not counted as the feed's failure), let the in-flight post
  finish, close the store, exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.alerts import digest
from bot.alerts.digest import DigestOutcome
from bot.alerts.outbox import Outbox
from bot.config import Config, load_config
from bot.errors import ConfigError, DeliveryAction, StoreError, StoreUnreachable, classify
from bot.matching.match import Matcher
from bot.models import FeedSpec, Topic
from bot.service.health import HealthReport, HealthServer
from bot.service.pipeline import PollOutcome, Runtime, Snapshot, poll_feed
from bot.settings import Settings
from bot.slack.deliver import advice
from bot.state.interface import QUEUED, UNREADABLE_ALERT, AlertStatus, Undelivered
from bot.state.leases import Coordinator, Solo

if TYPE_CHECKING:  # the scheduler is imported by the service only: `run --once` goes without
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot.slack.feedback import FeedbackSync

log = logging.getLogger(__name__)

POLL_WORKERS = 8
CONTROL_WORKERS = 2  # reload and prune: never queued behind stuck polls
RELOAD_CHECK_SECONDS = 2.0
POLL_SUMMARY_SECONDS = 300.0  # one "polls" line per interval; each quiet poll logs at debug
PRUNE_SECONDS = 6 * 3600
DIGEST_GRACE_SECONDS = 3600  # a digest delayed (a busy machine, a long reload) is still sent
# Replicas' digest jobs fire at the same wall time: one slot per 10 minutes makes them one run.
DIGEST_SLOT_SECONDS = 600


EXIT_OK = 0  # run --once: every alert is in Slack (or, dry run, was printed)
EXIT_UNDELIVERED = 3  # run --once: alerts are left undelivered (waiting, parked, or failed)

_NETWORK_HINTS = {
    "dns": "DNS; is there network?",
    "connect": "connection refused or unreachable; is there network (or a proxy to set)?",
    "timeout": "timeouts; is the network slow or blocked?",
}


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one `run --once` did; `exit_code` and `problems` say what is left to fix."""

    feeds: int
    feeds_failed: int
    new_stories: int
    queued: int
    delivered: int
    still_queued: int
    skipped: tuple[tuple[str, str, str], ...] = ()  # (feed, headline, why): only marked seen
    overflow: int = 0  # over the per-poll cap, listed in "and N more" messages
    held: int = 0  # held for digests
    parked: int = 0
    failed: int = 0  # alerts Slack refused for good in this run
    dry_run: bool = False
    problems: tuple[str, ...] = ()  # one line per undelivered group: count, channel, why, fix

    def line(self) -> str:
        polled = (
            f"polled {self.feeds} feeds ({self.feeds_failed} failed), {self.new_stories} new "
            f"stories, {self.queued} alerts queued"
        )
        if self.dry_run:
            text = f"{polled}, {self.delivered} would be posted (dry run: nothing sent or saved)"
        else:
            text = (
                f"{polled}, {self.delivered} delivered, {self.parked} parked, "
                f"{self.failed} failed, {self.still_queued} waiting in the outbox"
            )
        if self.skipped:
            text += f"; {len(self.skipped)} older or undated stories only marked seen (first poll)"
        if self.overflow:
            text += f"; {self.overflow} over the per-poll cap, listed in 'and N more' messages"
        if self.held:
            text += f"; {self.held} held for digests"
        return text

    @property
    def exit_code(self) -> int:
        left = self.still_queued + self.parked + self.failed
        return EXIT_UNDELIVERED if left and not self.dry_run else EXIT_OK


def all_feeds_failed(outcomes: Sequence[PollOutcome]) -> str | None:
    """One line when every feed of a cycle failed ("all 16 feeds failed: DNS; is there
    network?"), naming the most common reason; None when any feed worked."""
    if not outcomes or any(o.status not in ("failed", "disabled") for o in outcomes):
        return None
    kinds = Counter(o.kind or o.status for o in outcomes)
    kind, _ = kinds.most_common(1)[0]
    reason = _NETWORK_HINTS.get(kind, kind)
    return f"all {len(outcomes)} feeds failed: {reason}"


def fix_for(error: str) -> str:
    """What to do about an undelivered alert's error: Slack's codes are `deliver.advice`'s; an
    alert set aside because its stored copy is damaged was never Slack's doing."""
    if error.startswith(UNREADABLE_ALERT):
        return "its stored copy is damaged, so it is never posted; the channel's other alerts go on"
    return advice(error)


def _failed_line(alert_id: str, channel: str, error: str) -> str:
    what = "set aside" if error.startswith(UNREADABLE_ALERT) else "refused by Slack"
    return f"alert {alert_id} for {channel} {what} ({error}): {fix_for(error)}"


def undelivered_lines(rows: Sequence[Undelivered], *, since: bool = False) -> list[str]:
    """Why alerts are not in Slack: one line per channel and state, the error, and the fix.

    Alerts queued behind a failing one share its line: they wait for the same reason.
    """
    groups: dict[tuple[str, str], list[Undelivered]] = {}
    for row in rows:
        state = "waiting" if row.status in QUEUED else row.status.value
        groups.setdefault((state, row.channel), []).append(row)
    lines = []
    for (state, channel), group in groups.items():
        count = sum(row.count for row in group)
        errors = list(dict.fromkeys(row.error for row in group if row.error))
        line = f"{count} alert{'s' if count != 1 else ''} {state} for {channel}"
        if since:
            oldest = min(row.since for row in group)
            line += f" since {datetime.fromtimestamp(oldest, UTC):%Y-%m-%d %H:%M:%SZ}"
        line += f" ({', '.join(errors) or 'not tried yet'})"
        lines.append(line + (f": {fix_for(errors[0])}" if errors else ""))
    return lines


class Service:
    def __init__(
        self,
        settings: Settings,
        runtime: Runtime,
        outbox: Outbox,
        *,
        feeds_override: Sequence[FeedSpec] | None = None,
        delivery_note: str = "",
        feedback: FeedbackSync | None = None,
        coordinator: Coordinator | None = None,
    ) -> None:
        self.settings = settings
        self.coordinator = coordinator or Solo()  # what this replica may do (one: everything)
        self.delivery_note = delivery_note  # how alerts go out, said once at start
        self.rt = runtime
        self.outbox = outbox
        self.feedback = feedback
        self.feeds_override = list(feeds_override) if feeds_override is not None else None
        self.stop_event = threading.Event()
        self._fatal = ""  # the state error that stopped the service: exit 1, not 0
        self.wake = threading.Event()
        self.rt.on_queued = self.wake.set
        self.scheduler: BackgroundScheduler | None = None
        self._deliverer: threading.Thread | None = None
        self._last_cycle = 0.0
        self._mtimes = self._config_mtimes()
        self._rejected: tuple[float, ...] | None = None
        self._config_problem = ""  # the rejected edit, until a valid one replaces it
        self._slack_check = "not checked"
        self._tally: Counter[str] = Counter()  # polls by outcome since the last summary line
        self._tally_lock = threading.Lock()
        self._latest: dict[str, PollOutcome] = {}  # each feed's last poll, for the outage line
        self._outage = ""  # the all-feeds-failed line last logged

    # --- one-shot -------------------------------------------------------------------------------

    def run_once(self) -> RunSummary:
        self._announce()
        feeds = [feed for feed in self.rt.config.feeds if self.coordinator.claim_feed(feed.url)]
        self.rt.store.unpark_all()  # the admin may have fixed the channel since the last run
        failed_before = {alert_id for alert_id, _, _ in self.rt.store.failed()}
        held: set[str] = set()  # channels that failed in this run: tried no more this run
        polled = threading.Event()
        early = _EarlyDrain(self, held, polled)
        early.start()
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(POLL_WORKERS, len(feeds)))) as pool:
                outcomes = list(pool.map(lambda feed: poll_feed(self.rt, feed, force=True), feeds))
        finally:
            polled.set()
            self.wake.set()
            early.join()
        outage = all_feeds_failed(outcomes)
        if outage:
            log.error(outage)
        drained = self.outbox.drain(ignore_backoff=True, held=held)
        self.coordinator.release_all()
        self._last_cycle = time.time()
        waits, seconds = self.rt.store.lock_waits()  # what /metrics exports, for one-shot runs
        log.info("store lock waits", extra={"waits": waits, "wait_s": round(seconds, 3)})
        failed_now = [f for f in self.rt.store.failed() if f[0] not in failed_before]
        return self._summary(outcomes, early.sent + drained.sent, failed_now)

    def send_digests(self, topics: Sequence[Topic]) -> tuple[list[DigestOutcome], int]:
        """`newsbot digest`: cut the digest of each topic now and deliver the outbox."""
        outcomes = [outcome for topic in topics for outcome in digest.cut(self.rt.store, topic)]
        drained = self.outbox.drain(ignore_backoff=True)
        return outcomes, drained.sent

    def _summary(
        self, outcomes: list[PollOutcome], delivered: int, failed: list[tuple[str, str, str]]
    ) -> RunSummary:
        skipped = tuple(
            (outcome.feed_url, title, why) for outcome in outcomes for title, why in outcome.skipped
        )
        rows = self.rt.store.undelivered()
        problems = undelivered_lines([row for row in rows if row.status != "failed"])
        problems += [_failed_line(*alert) for alert in failed]
        return RunSummary(
            len(outcomes),
            sum(o.status in ("failed", "disabled") for o in outcomes),
            sum(o.new_stories for o in outcomes),
            sum(o.queued for o in outcomes),
            delivered,
            self.rt.store.outbox_depth(),
            skipped,
            sum(o.overflow for o in outcomes),
            sum(o.held for o in outcomes),
            parked=sum(r.count for r in rows if r.status == AlertStatus.PARKED),
            failed=len(failed),
            dry_run=self.outbox.dry_run,
            problems=tuple(problems),
        )

    def _announce(self) -> None:
        if self.delivery_note:
            log.info(self.delivery_note)

    # --- service --------------------------------------------------------------------------------

    def run_forever(self) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor as JobPool
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self._install_signals()
        self._announce()
        health = self._start_health()
        self.rt.store.unpark_all()
        self._check_slack_auth()
        self.scheduler = BackgroundScheduler(
            executors={"default": JobPool(POLL_WORKERS), "control": JobPool(CONTROL_WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        for feed in self.rt.config.feeds:
            self._add_feed_job(feed, first=True)
        self._sync_digest_jobs()
        self.scheduler.add_job(
            self._check_reload,
            IntervalTrigger(seconds=RELOAD_CHECK_SECONDS),
            id="reload",
            executor="control",
        )
        self.scheduler.add_job(
            self._log_polls,
            IntervalTrigger(seconds=POLL_SUMMARY_SECONDS),
            id="poll-summary",
            executor="control",
        )
        self.scheduler.add_job(
            self._prune,
            IntervalTrigger(seconds=PRUNE_SECONDS),
            id="prune",
            next_run_time=_now_dt(),
            executor="control",
        )
        self._schedule_feedback()
        if self.coordinator.heartbeat_every:
            self.scheduler.add_job(
                self._heartbeat,
                IntervalTrigger(seconds=self.coordinator.heartbeat_every),
                id="heartbeat",
                next_run_time=_now_dt(),
                executor="control",
            )
        self._deliverer = threading.Thread(target=self._deliver_loop, name="outbox", daemon=True)
        self._deliverer.start()
        self.scheduler.start()
        log.info(
            "newsbot started",
            extra={
                "feeds": len(self.rt.config.feeds),
                "topics": len(self.rt.config.topics),
                "db": str(self.rt.store.path),
            },
        )
        self.stop_event.wait()
        log.info("shutting down: finishing in-flight work")
        self.rt.fetcher.cancel()  # in-flight fetches end now, whatever the server does
        self.scheduler.shutdown(wait=True)  # in-flight polls finish, no new ones start
        self.wake.set()
        self._deliverer.join(timeout=30)
        self.coordinator.release_all()  # the other replicas take this one's work at once
        if health is not None:
            health.stop()
        if self._fatal:
            log.critical("stopped after a fatal state error", extra={"error": self._fatal})
            return 1  # so a service manager's Restart=on-failure restarts it
        log.info("stopped cleanly")
        return 0

    def _check_slack_auth(self) -> None:
        """Ask Slack once at start-up, so /readyz and the log say at once when the token is bad."""
        if not self.settings.slack_token:
            self._slack_check = "no Slack token: alerts go to the terminal"
            return
        problem = self.outbox.sender.check_auth()
        if problem and classify(problem) != DeliveryAction.AUTH:  # unreachable: delivery will retry
            self._slack_check = f"not verified: {problem}"
            log.warning("could not reach Slack to check the token", extra={"error": problem})
            return
        self._slack_check = problem or "ok"
        workspace = self.outbox.sender.workspace_url
        if workspace and not problem:
            self.rt.store.set_meta("slack_workspace_url", workspace)  # for `newsbot alerts` links
        if problem:
            # Reported (log, /readyz) but not acted on: the posts themselves decide whether
            # posting stops, so a gateway without auth.test still gets its alerts.
            log.error(
                "Slack rejected the token at start-up; posts will tell for sure",
                extra={"error": problem},
            )

    def close(self) -> None:
        """Release the fetcher's connections, the Slack client, the leases and the store."""
        self.coordinator.release_all()  # `newsbot digest` too: its channels free at once
        self.rt.fetcher.close()
        self.outbox.sender.close()
        self.rt.store.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, _frame: Any) -> None:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _start_health(self) -> HealthServer | None:
        if not self.settings.http_port:
            return None
        server = HealthServer(
            self.settings.http_host, self.settings.http_port, self.rt.metrics, self.health_report
        )
        try:
            server.start()
        except OSError as exc:
            log.error(
                "health endpoint not started",
                extra={"error": str(exc), "port": self.settings.http_port},
            )
            return None
        return server  # HealthServer.start logged where it listens

    def _add_feed_job(self, feed: FeedSpec, *, first: bool = False) -> None:
        from apscheduler.triggers.interval import IntervalTrigger

        assert self.scheduler is not None
        jitter = self.rt.config.defaults.jitter
        trigger = IntervalTrigger(seconds=feed.interval, jitter=jitter)
        self.scheduler.add_job(
            self._poll_job,
            trigger,
            args=[feed.url],
            id=_feed_job(feed.url),
            replace_existing=True,
            next_run_time=_now_dt(spread=min(jitter, 5) if first else 0),
        )

    def _sync_digest_jobs(self) -> None:
        """One cron job per topic in digest mode, at its time in its zone; none for the others.
        A topic switched back to realtime sends what it still holds as one last digest."""
        assert self.scheduler is not None
        wanted = {
            f"digest:{topic.name}": topic for topic in digest.digest_topics(self.rt.config.topics)
        }
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:") and job.id not in wanted:
                job.remove()
        for job_id, topic in wanted.items():
            assert topic.digest is not None
            self.scheduler.add_job(
                self._digest_job,
                digest.trigger(topic.digest),
                args=[topic.name],
                id=job_id,
                replace_existing=True,
                misfire_grace_time=DIGEST_GRACE_SECONDS,
                executor="control",  # never queued behind stuck polls
            )
        held = self.rt.store.held_counts()
        for topic in digest.leftover_topics(self.rt.config.topics, held):
            log.info(
                "topic back in realtime mode: its held stories go out in a last digest",
                extra={"topic": topic.name, "held": held[topic.name]},
            )
            if digest.cut(self.rt.store, topic):
                self.wake.set()

    def _digest_job(self, name: str) -> None:
        topic = next(
            (t for t in digest.digest_topics(self.rt.config.topics) if t.name == name), None
        )
        if topic is None or self.stop_event.is_set():
            return
        slot = round(time.time() / DIGEST_SLOT_SECONDS)
        if not self._once_across_replicas(f"digest:{name}", slot):
            return
        try:
            if digest.cut(self.rt.store, topic):
                self.wake.set()
        except StoreError as exc:
            self._store_failed(exc)

    def _heartbeat(self) -> None:
        """Renew the leases, and poll now the free feeds this replica has room for (handed over
        by another replica, or left by a dead one) rather than at their next scheduled time."""
        from apscheduler.jobstores.base import JobLookupError

        free = self.coordinator.heartbeat([feed.url for feed in self._feeds()])
        for url in free:
            if self.scheduler is None or self.stop_event.is_set():
                return
            with contextlib.suppress(JobLookupError):  # dropped from the config meanwhile
                self.scheduler.modify_job(_feed_job(url), next_run_time=_now_dt())
        if free:
            log.info("free feeds taken over", extra={"feeds": len(free)})

    def _once_across_replicas(self, job: str, slot: float) -> bool:
        """True in the one replica that runs this job's slot (always, alone)."""
        return self.coordinator.first_to_run(job, int(slot))

    def _poll_job(self, url: str) -> None:
        if self.stop_event.is_set():
            return
        feed = next((f for f in self._feeds() if f.url == url), None)
        if feed is None or not self.coordinator.claim_feed(url):
            return
        try:
            self.rt.store.check_file()
            outcome = poll_feed(self.rt, feed)
        except StoreError as exc:
            self._store_failed(exc)
            return
        self._note_outcome(outcome)
        if outcome.status != "skipped":
            with self._tally_lock:
                self._tally[outcome.status] += 1
                self._tally["queued"] += outcome.queued
        self._last_cycle = time.time()
        self.rt.metrics.last_cycle_timestamp.set(self._last_cycle)

    def _note_outcome(self, outcome: PollOutcome) -> None:
        """Log once when every feed's latest poll failed (an outage, not sixteen problems)."""
        if outcome.status == "skipped":
            return
        self._latest[outcome.feed_url] = outcome
        urls = {feed.url for feed in self._feeds()}
        latest = [self._latest[url] for url in urls if url in self._latest]
        outage = all_feeds_failed(latest) if len(latest) == len(urls) else None
        if outage and outage != self._outage:
            log.error(outage)
        self._outage = outage or ""

    def _schedule_feedback(self) -> None:
        """(Re)schedule the reading of reactions; `feedback_interval: 0` turns it off."""
        from apscheduler.triggers.interval import IntervalTrigger

        if self.feedback is None or self.scheduler is None:
            return
        if self.scheduler.get_job("feedback") is not None:
            self.scheduler.remove_job("feedback")
        seconds = self.rt.config.defaults.feedback_interval
        if seconds:
            first = _now_dt() + timedelta(seconds=min(seconds, 30))
            self.scheduler.add_job(
                self._feedback_job,
                IntervalTrigger(seconds=seconds),
                id="feedback",
                next_run_time=first,
            )

    def _feedback_job(self) -> None:
        if self.feedback is None or self.stop_event.is_set():
            return
        seconds = max(self.rt.config.defaults.feedback_interval, 1)
        if not self._once_across_replicas("feedback", time.time() // seconds):
            return
        try:
            report = self.feedback.sync(self.rt.config.defaults.feedback_days)
        except StoreError as exc:
            self._store_failed(exc)
            return
        except Exception:  # a bug in reading reactions must not stop the bot
            log.exception("feedback sync crashed; the next one tries again")
            return
        level = logging.INFO if report.changed or report.cleared else logging.DEBUG
        log.log(
            level,
            "feedback synced",
            extra={
                "alerts": report.alerts,
                "calls": report.calls,
                "changed": report.changed,
                "cleared": report.cleared,
            },
        )

    def _store_failed(self, exc: StoreError) -> None:
        if isinstance(exc, StoreUnreachable):  # the server is away: skip, /readyz says so
            log.warning("state database unreachable; work skipped", extra={"error": str(exc)})
            return
        if not self._fatal:
            self._fatal = str(exc)
            log.critical("state database failed: stopping", extra={"error": str(exc)})
        self.stop()

    def _feeds(self) -> Sequence[FeedSpec]:
        return self.feeds_override if self.feeds_override is not None else self.rt.config.feeds

    def _deliver_loop(self) -> None:
        while True:
            try:
                self.rt.store.check_file()
                self.outbox.drain(stop=self.stop_event)
            except StoreError as exc:
                self._store_failed(exc)
            except Exception:  # the outbox must outlive a bug in one alert's handling
                log.exception("delivery round crashed; retrying shortly")
            if self.stop_event.is_set():
                return
            self.wake.wait(timeout=1.0)
            self.wake.clear()

    # --- reload ---------------------------------------------------------------------------------

    def _config_mtimes(self) -> tuple[float, ...]:
        return tuple(_mtime(path) for path in self.rt.config.files)

    def _check_reload(self) -> None:
        mtimes = self._config_mtimes()
        if mtimes == self._mtimes or mtimes == self._rejected:
            return
        try:
            config = load_config(self.rt.config.path)
            matcher = Matcher(config.topics)
        except Exception as exc:  # any failure (not only ConfigError) keeps the running config
            # Logged once per edit (not every check) and shown in /readyz until fixed.
            self._rejected = mtimes
            message = exc.render() if isinstance(exc, ConfigError) else repr(exc)
            problems = message.split("\n")
            more = sum(not line.startswith(" ") for line in problems) - 1
            self._config_problem = problems[0] + (f" (and {more} more)" if more > 0 else "")
            log.error(
                "config change rejected; the running configuration stays",
                extra={"error": message},
                exc_info=not isinstance(exc, ConfigError),
            )
            return
        self._apply(config, matcher)
        self._mtimes = mtimes
        self._config_problem = ""

    def _apply(self, config: Config, matcher: Matcher) -> None:
        old = {feed.url: feed for feed in self._feeds()}
        old_feedback_interval = self.rt.config.defaults.feedback_interval
        if self.feeds_override is not None:
            config = config.with_feeds(self.feeds_override)
        self.rt.snapshot = Snapshot(config, matcher)  # one assignment: polls read it once
        if config.defaults.feedback_interval != old_feedback_interval:
            self._schedule_feedback()
        new = {feed.url: feed for feed in self._feeds()}
        for url in old.keys() - new.keys():
            if self.scheduler is not None:
                self.scheduler.remove_job(_feed_job(url))
        for url, feed in new.items():
            if url not in old or old[url].interval != feed.interval:
                self._add_feed_job(feed)
        if self.scheduler is not None:
            self._sync_digest_jobs()
        log.info(
            "config reloaded",
            extra={
                "feeds": len(new),
                "topics": len(config.topics),
                "added": len(new.keys() - old.keys()),
                "removed": len(old.keys() - new.keys()),
            },
        )

    def _log_polls(self) -> None:
        """One line for the polls since the last one: quiet polls log only at debug."""
        with self._tally_lock:
            tally, self._tally = self._tally, Counter()
        if tally:
            log.info(
                "polls",
                extra={
                    "seconds": POLL_SUMMARY_SECONDS,
                    **{status: tally[status] for status in sorted(tally)},
                },
            )

    def _prune(self) -> None:
        if not self._once_across_replicas("prune", time.time() // PRUNE_SECONDS):
            return
        try:
            seen, alerts = self.rt.prune(self.rt.config.defaults.retention_days)
        except StoreUnreachable as exc:
            self._store_failed(exc)
            return
        if seen or alerts:
            log.info("pruned old state", extra={"stories": seen, "alerts": alerts})

    # --- health ---------------------------------------------------------------------------------

    def health_report(self) -> HealthReport:
        alive = bool(
            self.scheduler
            and self.scheduler.running
            and self._deliverer
            and self._deliverer.is_alive()
        )
        config = f"edit rejected: {self._config_problem}" if self._config_problem else "ok"
        checks = {"scheduler": "ok" if alive else "not running", "config": config}
        try:
            self.rt.store.check_file()
            checks["outbox"] = f"{self.rt.store.outbox_depth()} queued"
            checks["store"] = "ok"
        except StoreError as exc:
            checks["store"] = str(exc)
        longest = max((feed.interval for feed in self._feeds()), default=300)
        age = time.time() - self._last_cycle
        checks["last_poll"] = "never" if not self._last_cycle else f"{age:.0f} s ago"
        recent = bool(self._last_cycle) and age < 3 * longest + 60
        checks["slack_auth"] = self.outbox.auth_error or self._slack_check
        if self.coordinator.heartbeat_every:
            checks["replica"] = self.coordinator.problem() or self.coordinator.replica_id
        ready = (
            alive
            and not self.coordinator.problem()
            and not self._config_problem
            and checks["store"] == "ok"
            and recent
            and not self.outbox.auth_error
            and classify(self._slack_check) != DeliveryAction.AUTH
        )
        return HealthReport(alive=alive, ready=ready, checks=checks)


class _EarlyDrain(threading.Thread):
    """`run --once` delivers while it polls: each alert goes out once queued, not after the
    last feed (the posts' round trips overlap the polls). It tries every alert once, as the
    final drain does, with the same `held` channels, so the two act as one drain; it stops
    between two posts when the polls are done, and the final drain delivers the rest."""

    def __init__(self, service: Service, held: set[str], polled: threading.Event) -> None:
        super().__init__(name="outbox", daemon=True)
        self.service, self.held, self.polled = service, held, polled
        self.sent = 0

    def run(self) -> None:
        outbox, wake = self.service.outbox, self.service.wake
        while not self.polled.is_set():
            wake.clear()  # before the drain: an alert queued during it wakes the next one
            try:
                self.sent += outbox.drain(
                    stop=self.polled, ignore_backoff=True, held=self.held
                ).sent
            except StoreError as exc:  # the final drain meets it again and reports it
                log.error("delivery while polling stopped", extra={"error": str(exc)})
                return
            except Exception:  # a bug in one alert's handling: the final drain tries again
                log.exception("delivery while polling stopped; the rest goes out at the end")
                return
            wake.wait(timeout=1.0)


def _feed_job(url: str) -> str:
    """The scheduler's id of a feed's poll job (added, re-timed and removed by it)."""
    return f"feed:{url}"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _now_dt(spread: float = 0) -> datetime:
    return datetime.now().astimezone() + timedelta(seconds=random.uniform(0, spread))
