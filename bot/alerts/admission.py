"""Which new matching stories of one poll become alerts: the first-poll rule and the per-poll cap.

One pure decision, `admit(items, first_poll=..., now=..., policy=...)`, for every poll of every
feed (a brand-new deployment, a feed added later and a feed polled for the hundredth time alike):

- on the first poll of a feed (the state has never polled it), a story is alerted only when it
  was published within `backfill_hours` before `now`; older stories and stories without a date
  are only marked seen (`skipped`, each with its reason), so a new deployment or a newly added
  feed never posts its archive;
- on any poll, at most `max_alerts_per_poll` stories are alerted (the newest ones); the rest are
  `overflow`: never dropped silently, the caller lists them in one "and N more" message or holds
  them for the topic's digest;
- a later poll alerts an undated story: it is new to us, and that is all a date would tell.

Items are opaque (a Story, a (story, topic) pair, ...): only their published time is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How far back a first poll reaches, and how many alerts one poll of one feed may post."""

    backfill_hours: float  # config.Defaults holds the defaults (24 h, 20)
    max_alerts_per_poll: int


@dataclass(frozen=True, slots=True)
class Skipped(Generic[T]):
    """An item only marked seen, and why (in words an admin reads in the log or --dry-run)."""

    item: T
    reason: str


@dataclass(frozen=True, slots=True)
class Admission(Generic[T]):
    """The decision for one poll; every item given is in exactly one of the three parts."""

    alert: tuple[T, ...]  # in the order given
    skipped: tuple[Skipped[T], ...]  # first poll: too old or undated
    overflow: tuple[T, ...]  # over the cap, oldest first out; in the order given


def admit(
    items: Sequence[tuple[T, datetime | None]],
    *,
    first_poll: bool,
    now: datetime,
    policy: PollPolicy,
) -> Admission[T]:
    """Split one poll's matching items (each with its aware published time, or None)."""
    eligible: list[tuple[int, T, datetime | None]] = []
    skipped: list[Skipped[T]] = []
    for index, (item, published) in enumerate(items):
        reason = _too_old(published, now, policy.backfill_hours) if first_poll else None
        if reason:
            skipped.append(Skipped(item, reason))
        else:
            eligible.append((index, item, published))
    kept = _newest(eligible, now, policy.max_alerts_per_poll)
    alert = tuple(item for index, item, _ in eligible if index in kept)
    overflow = tuple(item for index, item, _ in eligible if index not in kept)
    return Admission(alert, tuple(skipped), overflow)


def _too_old(published: datetime | None, now: datetime, backfill_hours: float) -> str | None:
    """Why a first poll does not alert this item, or None when it does."""
    if published is None:
        return "first poll: no publication date"
    age_hours = (now - published).total_seconds() / 3600
    if age_hours > backfill_hours:
        return (
            f"first poll: published {_age(age_hours)} ago, before the "
            f"{backfill_hours:g} h backfill window"
        )
    return None


def _newest(eligible: list[tuple[int, T, datetime | None]], now: datetime, limit: int) -> set[int]:
    """The indexes of the `limit` newest items; an undated item counts as published `now`, and
    ties keep the feed's order (feeds list their newest first)."""
    ranked = sorted(eligible, key=lambda entry: (-(entry[2] or now).timestamp(), entry[0]))
    return {index for index, _, _ in ranked[: max(limit, 0)]}


def _age(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    return f"{hours:.0f} h"
