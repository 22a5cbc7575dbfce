"""Each channel's recent alerts, held in memory for the clustering decision.

Contract: `ReportIndex.reports(tx, channel, since)`, called with a poll's unit of work (or the
store), returns what `tx.prior_reports(channel, since)` would (the stories alerted or folded in
`channel` whose event started at or after `since`, in the order recorded), as
`cluster.PriorReport`s whose comparison features were computed once, when the index first saw
them. It is brought up to date by a query on the alerts recorded since it last looked (a range
of the primary key, so alerts recorded by another process count too); it is loaded from the
store on first use, and again when asked for older reports than it holds. Reports whose event
started before anything asked for in the last `PRUNE_SECONDS` are dropped: its size is bounded
by the clustering window.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.matching import cluster
from bot.state.interface import AlertedReport, Reports

PRUNE_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    event_start: float
    report: cluster.PriorReport


def prior_report(report: AlertedReport, *, with_features: bool = False) -> cluster.PriorReport:
    """The clustering view of a stored report (its features computed now if asked)."""
    story = report.story
    return cluster.PriorReport(
        report.alert_id,
        story.title,
        story.summary,
        story.url,
        story.source,
        datetime.fromtimestamp(report.published, UTC),
        datetime.fromtimestamp(report.event_start, UTC),
        cluster.features(story.title, story.summary) if with_features else None,
    )


class ReportIndex:
    """Recent alerts per channel with their comparison features (see the module docstring)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._channels: dict[str, list[_Entry]] = {}
        self._floor: float | None = None  # reports whose event started before it are not held
        self._last_seq = 0
        self._asked = float("inf")  # the oldest `since` asked for since the last prune
        self._pruned = 0.0
        self.loads = 0  # full loads from the store (the first, and any for older reports)

    def reports(self, tx: Reports, channel: str, since: float) -> list[cluster.PriorReport]:
        with self._lock:
            if self._floor is None or since < self._floor:
                self._load(tx, since)
            else:
                self._refresh(tx)
            self._asked = min(self._asked, since)
            self._prune()
            return [e.report for e in self._channels.get(channel, ()) if e.event_start >= since]

    def size(self) -> int:
        """How many reports it holds."""
        with self._lock:
            return sum(len(entries) for entries in self._channels.values())

    def _load(self, tx: Reports, since: float) -> None:
        self.loads += 1
        self._channels = {}
        self._floor = since
        self._last_seq = 0
        self._refresh(tx)

    def _refresh(self, tx: Reports) -> None:
        assert self._floor is not None
        for found in tx.reports_after(self._last_seq, self._floor):
            report = found.report
            entry = _Entry(found.seq, report.event_start, prior_report(report, with_features=True))
            self._channels.setdefault(found.channel, []).append(entry)
        self._last_seq = max(self._last_seq, tx.last_alert_seq())

    def _prune(self) -> None:
        now = self._clock()
        if now - self._pruned < PRUNE_SECONDS or self._floor is None:
            return
        self._pruned = now
        self._floor = max(self._floor, self._asked)
        self._asked = float("inf")
        floor = self._floor
        self._channels = {
            channel: kept
            for channel, entries in self._channels.items()
            if (kept := [e for e in entries if e.event_start >= floor])
        }
