"""Prometheus metrics: what the bot did, counted where it happened, rendered for `GET /metrics`.

Contract: one `Metrics` object is built at start-up and passed to the stages that count things
(scheduler, pipeline, outbox, delivery); there are no module-level metrics. Each `Metrics` owns its
own `CollectorRegistry`, so tests and a second bot in one process never share counts. Stages use
the metric attributes directly, with the labels named below:

    metrics.feeds_polled.labels(feed=metrics.feed_label(feed.name, feed.url)).inc()
    with metrics.poll_seconds.time(): ...
    metrics.outbox_depth.set(n)

Names follow Prometheus' conventions (https://prometheus.io/docs/practices/naming/): prefixed
`newsbot_`, counters end in `_total` (added by the client library), units in the name (`_seconds`).
Label values must come from the configuration (feed names, topic and channel names) or from a
short fixed list (error kinds, Slack error codes), never from story content, so the number of
series stays bounded. A feed is labelled by its configured name, else by its redacted URL
(`bot.feeds.urls.redact_url`: never a credential), at most MAX_FEED_LABEL characters; past
MAX_FEED_SERIES distinct feeds (a huge `--feeds` list) the rest share the label "other".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from bot.feeds.urls import redact_url

# Fetch errors by kind (see bot.errors.FetchError) plus "parse" for a body that is not a feed.
# They start at 0 so `rate()` and alerts on them work before the first error ever happens.
FETCH_ERROR_KINDS = (
    "scheme",
    "dns",
    "connect",
    "timeout",
    "http",
    "too_large",
    "redirects",
    "protocol",
    "private",
    "parse",
)
MAX_FEED_SERIES = 1000
MAX_FEED_LABEL = 120

# A feed poll is bounded by the connect and read timeouts (10 s + 30 s by default).
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 60.0)
# One chat.postMessage, including slack-sdk's own retries on 429 (Retry-After may be long).
DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric newsbot exports, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._feed_labels: set[str] = set()
        self._feed_labels_lock = threading.Lock()
        reg = self.registry
        self.feeds_polled = Counter(
            "newsbot_feeds_polled", "Feed polls attempted, by feed.", ["feed"], registry=reg
        )
        self.not_modified = Counter(
            "newsbot_not_modified",
            "Polls answered 304 Not Modified (RFC 9110 section 15.4.5), by feed.",
            ["feed"],
            registry=reg,
        )
        self.fetch_errors = Counter(
            "newsbot_fetch_errors", "Failed feed polls, by error kind.", ["kind"], registry=reg
        )
        for kind in FETCH_ERROR_KINDS:
            self.fetch_errors.labels(kind=kind)
        self.stories_seen = Counter(
            "newsbot_stories_seen", "Stories read from feeds (new or not).", registry=reg
        )
        self.matches = Counter(
            "newsbot_matches", "Stories that matched a topic, by topic.", ["topic"], registry=reg
        )
        self.alerts_delivered = Counter(
            "newsbot_alerts_delivered",
            "Alerts Slack accepted, by topic and channel.",
            ["topic", "channel"],
            registry=reg,
        )
        self.alerts_failed = Counter(
            "newsbot_alerts_failed",
            "Failed delivery attempts, by channel and Slack error code (or transport failure).",
            ["channel", "code"],
            registry=reg,
        )
        self.alerts_queued = Counter(
            "newsbot_alerts_queued",
            "Alerts written to the outbox, by topic and channel.",
            ["topic", "channel"],
            registry=reg,
        )
        self.outbox_depth = Gauge(
            "newsbot_outbox_depth", "Alerts in the outbox waiting for delivery.", registry=reg
        )
        self.slack_ratelimited = Counter(
            "newsbot_slack_ratelimited", "HTTP 429 responses from the Slack Web API.", registry=reg
        )
        self.poll_seconds = Histogram(
            "newsbot_poll_seconds",
            "Time to fetch one feed, including parsing.",
            buckets=POLL_BUCKETS,
            registry=reg,
        )
        self.delivery_seconds = Histogram(
            "newsbot_delivery_seconds",
            "Time to deliver one alert to Slack.",
            buckets=DELIVERY_BUCKETS,
            registry=reg,
        )
        self.feed_last_success_timestamp = Gauge(
            "newsbot_feed_last_success_timestamp_seconds",
            "Unix time of the last successful poll, by feed.",
            ["feed"],
            registry=reg,
        )
        self.feed_consecutive_failures = Gauge(
            "newsbot_feed_consecutive_failures",
            "Failed polls in a row, by feed (0 after a success).",
            ["feed"],
            registry=reg,
        )
        self.last_cycle_timestamp = Gauge(
            "newsbot_last_cycle_timestamp_seconds",
            "Unix time the scheduler last finished a poll of any feed.",
            registry=reg,
        )
        self._register_runtime_collectors(reg)
        # The store's lock waits, read from the store when scraped (see `watch_store`).
        self._store_lock: Callable[[], tuple[int, float]] = lambda: (0, 0.0)
        reg.register(_StoreLockCollector(lambda: self._store_lock()))

    def watch_store(self, lock_waits: Callable[[], tuple[int, float]]) -> None:
        """Export the store's lock waits (`Store.lock_waits`: count, seconds)."""
        self._store_lock = lock_waits

    # -- what the outbox reports (bot.alerts.outbox.DeliveryReport) ---------------------------

    def delivered(self, topic: str, channel: str, seconds: float | None) -> None:
        if seconds is not None:
            self.delivery_seconds.observe(seconds)
        self.alerts_delivered.labels(topic=topic, channel=channel).inc()

    def delivery_failed(self, channel: str, code: str) -> None:
        self.alerts_failed.labels(channel=channel, code=code).inc()
        if code == "ratelimited":
            self.slack_ratelimited.inc()

    def outbox_depth_is(self, depth: int) -> None:
        self.outbox_depth.set(depth)

    @staticmethod
    def _register_runtime_collectors(reg: CollectorRegistry) -> None:
        """Process (memory, CPU, open files, start time), Python version and GC metrics.

        The library registers these on its global registry at import; ours is private, so we
        register fresh instances on it.
        """
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)

    def feed_label(self, name: str | None, url: str) -> str:
        """The `feed` label of a feed: bounded in length and in number, free of secrets."""
        label = (name or redact_url(url))[:MAX_FEED_LABEL]
        with self._feed_labels_lock:
            if label in self._feed_labels or len(self._feed_labels) < MAX_FEED_SERIES:
                self._feed_labels.add(label)
                return label
        return "other"

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric on this registry."""
        return generate_latest(self.registry)


class _StoreLockCollector:
    """newsbot_store_lock_waits_total and newsbot_store_lock_wait_seconds_total: how often and
    how long poll workers and the outbox queued for the store's one connection."""

    def __init__(self, read: Callable[[], tuple[int, float]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        waits, seconds = self._read()
        yield CounterMetricFamily(
            "newsbot_store_lock_waits",
            "Times a thread had to wait for the state store's lock.",
            value=waits,
        )
        yield CounterMetricFamily(
            "newsbot_store_lock_wait_seconds",
            "Seconds threads spent waiting for the state store's lock.",
            value=seconds,
        )
