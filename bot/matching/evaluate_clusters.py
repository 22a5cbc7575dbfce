"""`newsbot eval --clusters FILE`: measure story clustering on labelled JSON lines.

Contract: `cmd_eval_clusters(path, out, as_json=...)` reads one JSON object per line, keeps the
items labelled `relevant`, sorts them by `published` (stable: ties keep file order) and feeds
them one by one through `bot.matching.cluster.decide`, as if every item arrived in one
channel. It writes a report to `out` and returns an exit code: 0 on success, 2 when the file
cannot be read or an item is malformed (the message names the file and line).

Metrics, with a report's event given by its `event` slug:
- events: distinct events; alerts: top-level alerts that would be posted;
- repeats: reports, other than an event's first, published within the window of that first report;
  folded: those repeats folded into an alert of their own event; folded_fraction = folded/repeats;
- false_merges: reports folded into an alert of a different event;
- split_events: events that produced more than one top-level alert.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot.matching.cluster import PriorReport, decide, features, report_of
from bot.models import ClusterSettings, Story

_MONTH = re.compile(r"\d{4}-\d{2}")


class EvalInputError(ValueError):
    """A labelled file that cannot be evaluated; the message is `file:line: problem`."""


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled relevant report."""

    story: Story
    published: datetime
    event: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What clustering did with one item."""

    item: Item
    alert: str  # id of the item whose top-level alert this report was posted as or folded into
    folded: bool


def cmd_eval_clusters(
    path: str,
    out: TextIO,
    *,
    as_json: bool,
    settings: ClusterSettings | None = None,
    blocking: bool = True,
) -> int:
    """Run clustering over the relevant items of a labelled file and report the metrics."""
    settings = settings or ClusterSettings()
    try:
        items = load_items(path)
    except (OSError, EvalInputError) as error:
        out.write(f"eval --clusters: {error}\n")
        return 2
    outcomes = run_clustering(items, settings, blocking=blocking)
    metrics = measure(outcomes, settings)
    if as_json:
        out.write(json.dumps(metrics) + "\n")
    else:
        out.write(render(metrics, path))
    return 0


def load_items(path: str) -> list[Item]:
    """Relevant items of a JSON lines file, in publication order (stable on ties)."""
    items: list[Item] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                item = _parse_line(line, f"{path}:{number}")
                if item is not None:
                    items.append(item)
    return sorted(items, key=lambda item: item.published)  # sorted() is stable


def _parse_line(line: str, where: str) -> Item | None:
    try:
        raw: Any = json.loads(line)
    except json.JSONDecodeError as error:
        raise EvalInputError(f"{where}: not JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise EvalInputError(f"{where}: expected a JSON object")
    if raw.get("label") != "relevant":
        return None
    for key in ("id", "title", "published", "event"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise EvalInputError(f"{where}: relevant item needs a non-empty string `{key}`")
    published = _parse_published(raw["published"], where)
    story = Story(
        id=raw["id"],
        url=str(raw.get("url") or ""),
        title=raw["title"],
        summary=str(raw.get("summary") or ""),
        source=str(raw.get("source") or ""),
        published=published,
    )
    return Item(story, published, raw["event"])


def _parse_published(value: str, where: str) -> datetime:
    """A day ("2020-06-24"), a month ("2019-07", taken as its first day, as a source that gave
    only a month is dated in the labelled sets) or an ISO timestamp; naive times are UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(f"{text}-01" if _MONTH.fullmatch(text) else text)
    except ValueError:
        raise EvalInputError(
            f"{where}: `published` is not an ISO date (YYYY-MM-DD, YYYY-MM or a "
            f"timestamp): {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_clustering(
    items: list[Item], settings: ClusterSettings, *, blocking: bool = True
) -> list[Outcome]:
    """Feed the items through `decide` in order, one channel, as the pipeline would (with
    blocking, or without: every earlier report scored)."""
    prior: list[PriorReport] = []
    outcomes: list[Outcome] = []
    for item in items:
        decision = decide(item.story, prior, settings, now=item.published, blocking=blocking)
        alert = decision.parent_id or item.story.id
        report = report_of(alert, item.story, item.published, decision.parent_published)
        # Features kept with the report, as the poll's index keeps them: computed once.
        prior.append(replace(report, features=features(report.title, report.summary)))
        outcomes.append(Outcome(item, alert, decision.parent_id is not None))
    return outcomes


def measure(outcomes: list[Outcome], settings: ClusterSettings) -> dict[str, Any]:
    """The metrics of one run, as the JSON object `--json` prints."""
    event_of_alert = {o.item.story.id: o.item.event for o in outcomes if not o.folded}
    first_seen: dict[str, datetime] = {}
    window = timedelta(hours=settings.window_hours)
    repeats = folded = false_merges = 0
    for outcome in outcomes:
        event = outcome.item.event
        correct = outcome.folded and event_of_alert[outcome.alert] == event
        false_merges += outcome.folded and not correct
        if event in first_seen:
            if outcome.item.published - first_seen[event] <= window:
                repeats += 1
                folded += correct
        else:
            first_seen[event] = outcome.item.published
    top_level = Counter(event_of_alert.values())
    return {
        "events": len(first_seen),
        "alerts": len(event_of_alert),
        "repeats": repeats,
        "folded": folded,
        "folded_fraction": round(folded / repeats, 4) if repeats else 1.0,
        "false_merges": false_merges,
        "split_events": sum(1 for count in top_level.values() if count > 1),
        "assignments": [{"id": o.item.story.id, "alert": o.alert} for o in outcomes],
    }


def render(metrics: dict[str, Any], path: str) -> str:
    """The human-readable report."""
    return (
        f"clusters: {path}\n"
        f"  events          {metrics['events']}\n"
        f"  alerts posted   {metrics['alerts']}\n"
        f"  repeat reports  {metrics['repeats']} (within the window of their event's first)\n"
        f"  folded          {metrics['folded']} ({metrics['folded_fraction']:.1%})\n"
        f"  false merges    {metrics['false_merges']}\n"
        f"  split events    {metrics['split_events']}\n"
    )
