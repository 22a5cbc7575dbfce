"""Each channel's recent alerts, held in memory for the clustering decision.

Contract: `ReportIndex.reports(tx, channel, since, url)`, called with a poll's unit of work (or
the store), returns what `distinct_reports` makes of `tx.prior_reports(channel, since)`
(the stories alerted or folded in `channel` whose event started at or after `since`, in the order
recorded, one per set of copies), plus every report of the story's own `url`. The clustering
decision on it is the one on every stored report: copies of one story in one event (the same
headline and summary from several feeds, as wire stories are) score alike against any story, and
`cluster.decide` keeps the first of equals, so only the first copy can win; the same-URL rule is
served by the `url` lookup. So the work per story grows with the distinct events of the window,
not with the copies of them. Asked with the story's profile (`like`, when the decision blocks),
it returns only the reports blocking would keep (`cluster._blocked`: a distinctive name in
common, found through an index by name, or a near-copy headline, tested in C over the sorted
headlines): the decision is the same, and the Python work per story follows those reports, not
the window.

The comparison features are computed once per distinct text in each read of the store, and kept
by the reports (a reload keeps those of the texts still held: nothing is computed again). The
index is brought up to date by a query on the alerts recorded since it last looked (a range of the
primary key, so alerts recorded by another process count too); it is loaded from the store on
first use, again when asked for older reports than it holds, and by `reload()` (the store
pruned alerts: the index holds no more than the store). Reports whose event started before
anything asked for in the last `PRUNE_SECONDS` are dropped: its size is bounded by the
clustering window and the store's retention.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from bot.matching import cluster
from bot.models import Story

PRUNE_SECONDS = 600.0
# Reports read from the store per query. A load reads the whole window; in pages, the rows and
# their JSON text (about 1 KB each, each its own malloc block) are freed every page instead of
# all being held at once, which left that much free space in the heap after every reload.
READ_PAGE = 200


# What the index reads, declared here, implemented by the state's engines (bot/state).


@dataclass(frozen=True, slots=True)
class AlertedReport:
    """A story already alerted (or folded) in a channel, for the clustering decision."""

    alert_id: str  # id of the top-level alert of its event
    story: Story
    published: float
    event_start: float


@dataclass(frozen=True, slots=True)
class SeqReport:
    """An AlertedReport with where it stands in the order alerts were recorded."""

    seq: int
    channel: str
    report: AlertedReport | None  # None: its stored copy is damaged (never posted, not compared)


class Reports(Protocol):
    """Reads of the alerts already recorded, for the clustering decision."""

    def prior_reports(self, channel: str, since: float) -> list[AlertedReport]:
        """Stories alerted or folded in `channel` whose event started at or after `since`, in
        the order recorded."""
        ...

    def reports_after(self, seq: int, since: float, limit: int | None = None) -> list[SeqReport]:
        """The stories alerted or folded after `seq` (any channel) whose event started at or
        after `since`, in the order recorded (bot/matching/cluster_index.py keeps the rest); the
        first `limit` of them when given, a damaged stored copy counted (its report None)."""
        ...

    def last_alert_seq(self) -> int:
        """The highest alert sequence number recorded (0: none)."""
        ...


# What makes two reports copies for the decision: the texts compared, the event they belong to
# and when it started (`cluster.decide` reads nothing else of a report but its URL and, for the
# reason it gives, its source).
CopyKey = tuple[str, str, str, datetime]
Texts = tuple[str, str]  # (title, summary): what the comparison features are computed from


def copy_key(report: cluster.PriorReport) -> CopyKey:
    return (report.title, report.summary, report.alert_id, report.event_start)


def distinct_reports(reports: Iterable[cluster.PriorReport]) -> list[cluster.PriorReport]:
    """The first report of each set of copies (see `copy_key`), in order."""
    first: dict[CopyKey, cluster.PriorReport] = {}
    for report in reports:
        first.setdefault(copy_key(report), report)
    return list(first.values())


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    event_start: float
    report: cluster.PriorReport


@dataclass(slots=True)
class _Channel:
    firsts: dict[CopyKey, _Entry] = field(default_factory=dict)  # the first copy, in seq order
    # Every report, by story URL (a tuple: most URLs have one report, and a list is 88 bytes).
    by_url: dict[str, tuple[_Entry, ...]] = field(default_factory=dict)
    # Blocking's two tests (`cluster._blocked`) without a pass over every first: the firsts by
    # each distinctive name, and their sorted headlines for `cluster.near_copies` (in C).
    by_name: dict[str, list[_Entry]] = field(default_factory=dict)
    order: list[_Entry] = field(default_factory=list)  # the firsts, in seq order
    titles: list[str] = field(default_factory=list)  # their `Features.sorted_title`

    def add(self, entry: _Entry) -> None:
        first = self.firsts.setdefault(copy_key(entry.report), entry)
        if first is not entry:  # a copy holds the first's texts and features, not its own
            own = replace(
                entry.report,
                title=first.report.title,
                summary=first.report.summary,
                features=first.report.features,
            )
            entry = replace(entry, report=own)
        else:  # every first is indexed: `could_fold` must find whatever blocking would keep
            report = entry.report
            found = report.features or cluster.features(report.title, report.summary)
            self.order.append(entry)
            self.titles.append(found.sorted_title)
            for name in found.profile.names:
                self.by_name.setdefault(name, []).append(entry)
        url = entry.report.url
        self.by_url[url] = (*self.by_url.get(url, ()), entry)

    def could_fold(self, like: cluster.Profile) -> list[_Entry]:
        """The firsts that blocking keeps for a story of this profile, in seq order."""
        picked = {id(e): e for name in like.names for e in self.by_name.get(name, ())}
        for position in cluster.near_copies(like, self.titles):
            entry = self.order[position]
            picked[id(entry)] = entry
        return sorted(picked.values(), key=_seq)

    def kept(self, floor: float) -> _Channel:
        kept = _Channel()
        for entry in sorted(
            (e for entries in self.by_url.values() for e in entries if e.event_start >= floor),
            key=_seq,
        ):
            kept.add(entry)
        return kept

    def size(self) -> int:
        return sum(len(entries) for entries in self.by_url.values())

    def oldest(self) -> float:
        """When the earliest event it holds started."""
        return min(
            (e.event_start for entries in self.by_url.values() for e in entries),
            default=float("inf"),
        )


def _seq(entry: _Entry) -> int:
    return entry.seq


def prior_report(
    report: AlertedReport, *, features: cluster.Features | None = None
) -> cluster.PriorReport:
    """The clustering view of a stored report (with the features given, if any)."""
    story = report.story
    published = datetime.fromtimestamp(report.published, UTC)
    # A top-level alert's event starts when it was published: one object for both. Outlets'
    # names repeat from alert to alert: one string for each.
    same = report.event_start == report.published
    return cluster.PriorReport(
        report.alert_id,
        story.title,
        story.summary,
        story.url,
        sys.intern(story.source),
        published,
        published if same else datetime.fromtimestamp(report.event_start, UTC),
        features,
    )


class ReportIndex:
    """Recent alerts per channel with their comparison features (see the module docstring)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._floor: float | None = None  # reports whose event started before it are not held
        self._last_seq = 0
        self._asked = float("inf")  # the oldest `since` asked for since the last prune
        self._pruned = 0.0
        self.loads = 0  # full loads from the store (the first, and any for older reports)

    def reports(
        self,
        tx: Reports,
        channel: str,
        since: float,
        url: str = "",
        *,
        refresh: bool = True,
        like: cluster.Profile | None = None,
    ) -> list[cluster.PriorReport]:
        """`refresh=False`: the caller brought the index up to date (`catch_up`) in the same unit
        of work, and nothing was recorded since (one poll's stories, planned in one transaction).
        `like`: the profile of the story to decide with blocking; only the reports blocking
        keeps for it are returned (and every report of its `url`), so the work per story follows
        the reports it shares a name or a near-copy headline with, not the channel's size."""
        with self._lock:
            if self._floor is None or since < self._floor:
                self._load(tx, since)
            elif refresh:
                self._refresh(tx, cached=True)
            self._asked = min(self._asked, since)
            self._prune()
            held = self._channels.get(channel)
            if held is None:
                return []
            firsts = held.firsts.values() if like is None else held.could_fold(like)
            found = [e for e in firsts if e.event_start >= since]
            same_url = [e for e in held.by_url.get(url, ()) if e.event_start >= since]
            if same_url:
                ids = {id(e) for e in found}
                if any(id(e) not in ids for e in same_url):
                    found = sorted({id(e): e for e in found + same_url}.values(), key=_seq)
            return [e.report for e in found]

    def catch_up(self, tx: Reports) -> None:
        """Read the alerts recorded since the index last looked (nothing when it has not loaded
        yet: its first `reports` loads)."""
        with self._lock:
            if self._floor is not None:
                self._refresh(tx, cached=True)

    def reload(self, tx: Reports) -> None:
        """The store pruned alerts: read what it still holds, now (the features of the texts
        still there are kept, not computed again). The pruning job calls it, so no poll pays for
        reading the whole window, and the read's short-lived blocks land in the heap of that
        job's thread after every prune, not in a different poll thread's each time (each would
        keep the space: bot/service/memory.py). Not loaded yet: nothing to do."""
        with self._lock:
            if self._floor is not None:
                self._load(tx, self._floor)

    def size(self) -> int:
        """How many reports it holds (copies included)."""
        with self._lock:
            return sum(held.size() for held in self._channels.values())

    def distinct(self) -> int:
        """How many distinct reports (one per set of copies) it compares a story with."""
        with self._lock:
            return sum(len(held.firsts) for held in self._channels.values())

    def _load(self, tx: Reports, since: float) -> None:
        self.loads += 1
        known = _features_in(self._channels.values())
        self._channels = {}
        self._floor = since
        self._last_seq = 0
        self._refresh(tx, cached=False, known=known)

    def _refresh(
        self, tx: Reports, *, cached: bool, known: dict[Texts, cluster.Features] | None = None
    ) -> None:
        assert self._floor is not None
        # The highest number first: an alert committed after it is read the next time. (Read
        # after the reports, it could pass over one committed between the two reads.)
        top = max(self._last_seq, tx.last_alert_seq())
        # The features of each text, computed once for this read (copies of a story, one story in
        # several channels); the reports keep them, the index holds no table of its own.
        computed: dict[Texts, cluster.Features] = dict(known or {})
        after = self._last_seq
        while True:
            page = tx.reports_after(after, self._floor, READ_PAGE)
            for found in page:
                after = found.seq
                if (report := found.report) is None:
                    continue
                entry = _Entry(found.seq, report.event_start, _report(report, cached, computed))
                self._channels.setdefault(found.channel, _Channel()).add(entry)
            if len(page) < READ_PAGE:  # the last page
                break
        self._last_seq = max(top, after)

    def _prune(self) -> None:
        now = self._clock()
        if now - self._pruned < PRUNE_SECONDS or self._floor is None:
            return
        self._pruned = now
        self._floor = max(self._floor, self._asked)
        self._asked = float("inf")
        floor = self._floor
        # Rebuilt only when something is dropped: most prunes drop nothing (the window is days
        # long), and each rebuild made every channel's tables again, in whichever poll
        # thread's heap came along (bot/service/memory.py).
        if all(held.oldest() >= floor for held in self._channels.values()):
            return
        self._channels = {
            channel: kept
            for channel, held in self._channels.items()
            if (kept := held.kept(floor)).by_url
        }


def _report(
    report: AlertedReport, cached: bool, computed: dict[Texts, cluster.Features]
) -> cluster.PriorReport:
    """`cached`: the story was just decided on, its profile is in `cluster.profile`'s cache;
    `computed`: features already computed, by texts (added to)."""
    texts = (report.story.title, report.story.summary)
    found = computed.get(texts)
    if found is None:
        found = computed[texts] = cluster.features(*texts, cached=cached)
    return prior_report(report, features=found)


def _features_in(channels: Iterable[_Channel]) -> dict[Texts, cluster.Features]:
    return {
        (e.report.title, e.report.summary): e.report.features
        for held in channels
        for e in held.firsts.values()
        if e.report.features is not None
    }
