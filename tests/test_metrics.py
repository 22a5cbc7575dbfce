"""bot.service.metrics: every metric the issue names is exported; counts move when stages count."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.service.metrics import FETCH_ERROR_KINDS, MAX_FEED_LABEL, MAX_FEED_SERIES, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The rendered exposition, parsed back: {(sample name, sorted labels): value}."""
    text = metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


EXPORTED = [
    ("newsbot_feeds_polled", "counter"),
    ("newsbot_not_modified", "counter"),
    ("newsbot_fetch_errors", "counter"),
    ("newsbot_stories_seen", "counter"),
    ("newsbot_matches", "counter"),
    ("newsbot_alerts_delivered", "counter"),
    ("newsbot_alerts_failed", "counter"),
    ("newsbot_alerts_queued", "counter"),
    ("newsbot_outbox_depth", "gauge"),
    ("newsbot_slack_ratelimited", "counter"),
    ("newsbot_poll_seconds", "histogram"),
    ("newsbot_delivery_seconds", "histogram"),
    ("newsbot_feed_last_success_timestamp_seconds", "gauge"),
    ("newsbot_feed_consecutive_failures", "gauge"),
    ("newsbot_last_cycle_timestamp_seconds", "gauge"),
]


def test_every_metric_is_described_with_its_type() -> None:
    text = Metrics().render().decode()
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    for name, kind in EXPORTED:
        assert families.get(name) == kind, name


def test_fetch_error_kinds_start_at_zero() -> None:
    metrics = Metrics()
    for kind in FETCH_ERROR_KINDS:
        assert value(metrics, "newsbot_fetch_errors_total", kind=kind) == 0.0


FEED = "https://example.org/feed.xml"

MOVES = [
    pytest.param(
        lambda m: m.feeds_polled.labels(feed=FEED).inc(),
        "newsbot_feeds_polled_total",
        {"feed": FEED},
        1.0,
        id="feeds_polled",
    ),
    pytest.param(
        lambda m: m.not_modified.labels(feed=FEED).inc(),
        "newsbot_not_modified_total",
        {"feed": FEED},
        1.0,
        id="not_modified",
    ),
    pytest.param(
        lambda m: m.fetch_errors.labels(kind="timeout").inc(2),
        "newsbot_fetch_errors_total",
        {"kind": "timeout"},
        2.0,
        id="fetch_errors",
    ),
    pytest.param(
        lambda m: m.stories_seen.inc(7), "newsbot_stories_seen_total", {}, 7.0, id="stories_seen"
    ),
    pytest.param(
        lambda m: m.matches.labels(topic="frt").inc(),
        "newsbot_matches_total",
        {"topic": "frt"},
        1.0,
        id="matches",
    ),
    pytest.param(
        lambda m: m.alerts_delivered.labels(topic="frt", channel="#news").inc(),
        "newsbot_alerts_delivered_total",
        {"topic": "frt", "channel": "#news"},
        1.0,
        id="alerts_delivered",
    ),
    pytest.param(
        lambda m: m.alerts_failed.labels(channel="#news", code="channel_not_found").inc(),
        "newsbot_alerts_failed_total",
        {"channel": "#news", "code": "channel_not_found"},
        1.0,
        id="alerts_failed",
    ),
    pytest.param(
        lambda m: m.alerts_queued.labels(topic="frt", channel="#news").inc(3),
        "newsbot_alerts_queued_total",
        {"topic": "frt", "channel": "#news"},
        3.0,
        id="alerts_queued",
    ),
    pytest.param(
        lambda m: m.outbox_depth.set(4), "newsbot_outbox_depth", {}, 4.0, id="outbox_depth"
    ),
    pytest.param(
        lambda m: m.slack_ratelimited.inc(),
        "newsbot_slack_ratelimited_total",
        {},
        1.0,
        id="slack_ratelimited",
    ),
    pytest.param(
        lambda m: m.poll_seconds.observe(0.3),
        "newsbot_poll_seconds_count",
        {},
        1.0,
        id="poll_seconds",
    ),
    pytest.param(
        lambda m: m.delivery_seconds.observe(0.02),
        "newsbot_delivery_seconds_bucket",
        {"le": "0.05"},
        1.0,
        id="delivery_seconds",
    ),
    pytest.param(
        lambda m: m.feed_last_success_timestamp.labels(feed=FEED).set(1_700_000_000),
        "newsbot_feed_last_success_timestamp_seconds",
        {"feed": FEED},
        1_700_000_000.0,
        id="feed_last_success_timestamp",
    ),
    pytest.param(
        lambda m: m.feed_consecutive_failures.labels(feed=FEED).set(3),
        "newsbot_feed_consecutive_failures",
        {"feed": FEED},
        3.0,
        id="feed_consecutive_failures",
    ),
    pytest.param(
        lambda m: m.last_cycle_timestamp.set(1_700_000_123),
        "newsbot_last_cycle_timestamp_seconds",
        {},
        1_700_000_123.0,
        id="last_cycle_timestamp",
    ),
]


@pytest.mark.parametrize(("count", "sample", "labels", "expected"), MOVES)
def test_counting_shows_in_the_exposition(
    count: object, sample: str, labels: dict[str, str], expected: float
) -> None:
    metrics = Metrics()
    assert callable(count)
    count(metrics)
    assert value(metrics, sample, **labels) == expected


def test_each_metrics_object_counts_alone() -> None:
    first, second = Metrics(), Metrics()
    first.stories_seen.inc(5)
    assert value(first, "newsbot_stories_seen_total") == 5.0
    assert value(second, "newsbot_stories_seen_total") == 0.0


def test_uses_the_registry_it_is_given() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.stories_seen.inc()
    assert metrics.registry is registry
    assert registry.get_sample_value("newsbot_stories_seen_total") == 1.0


def test_process_metrics_are_exported() -> None:
    names = {key[0] for key in samples(Metrics())}
    assert "python_info" in names
    assert "python_gc_collections_total" in names


def test_feed_credentials_feed_labels_are_names_or_redacted_and_bounded() -> None:
    metrics = Metrics()
    assert metrics.feed_label("Outlet A", "http://u:pw@h.example/x?key=k") == "Outlet A"
    assert (
        metrics.feed_label(None, "http://u:pw@h.example/x?key=k")
        == "http://***@h.example/x?key=***"
    )
    assert len(metrics.feed_label(None, "https://h.example/" + "a" * 500)) == MAX_FEED_LABEL
    labels = {metrics.feed_label(None, f"https://h.example/{n}") for n in range(MAX_FEED_SERIES)}
    assert "other" in labels  # three labels were taken above: the last ones share "other"
    assert len(labels) == MAX_FEED_SERIES - 3 + 1
    assert metrics.feed_label("Outlet A", "") == "Outlet A"  # a label already in use stays
