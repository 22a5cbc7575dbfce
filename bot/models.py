"""The shared vocabulary of newsbot: frozen values handed from one pipeline stage to the next.

Outside formats (feedparser entries, YAML mappings, Slack responses) are converted into these
types at the edge and never travel further.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.matching.meaning import MeaningModel


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed the admin asked for."""

    url: str
    name: str | None = None
    interval: int = 300  # seconds between polls
    topics: tuple[str, ...] = ()  # empty: every topic
    backfill_hours: float | None = None  # None: the defaults' value
    max_alerts_per_poll: int | None = None  # None: the defaults' value


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """When a matched story counts as another report of an event already alerted on."""

    window_hours: float = 72.0
    threshold: float = 0.0  # 0: use the clustering module's tuned default
    enabled: bool = True


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REALTIME, DIGEST = "realtime", "digest"


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a topic in digest mode posts its digest: a time of day on some weekdays, in a zone."""

    hour: int = 8
    minute: int = 0
    days: tuple[str, ...] = DAYS  # three-letter names, Monday first
    timezone: str = "UTC"  # an IANA name, checked by config against zoneinfo

    @property
    def at(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class Topic:
    """A subject a team follows: a query in the rule language, where its alerts go, how sure to
    be."""

    name: str
    channels: tuple[str, ...]
    query: str
    threshold: float = 50.0  # minimum match score, 0-100
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    concepts: tuple[tuple[str, str], ...] = ()  # named concepts (`@name`), in definition order
    meaning: MeaningModel | None = field(default=None, compare=False)  # the meaning stage, if any
    meaning_requires: str = "tech"  # the concept a story must contain for the stage to rescue it
    timezone: str = "UTC"  # IANA zone its alerts show times in
    delivery: str = REALTIME  # REALTIME: one alert per story; DIGEST: held for `digest`
    digest: DigestSchedule | None = None  # set exactly when delivery is DIGEST


@dataclass(frozen=True, slots=True)
class Story:
    """One news item, already normalised: plain text, canonical URL, aware datetime."""

    id: str  # stable within its feed: guid, else canonical link, else a content hash
    url: str  # canonical URL; "" when the entry had no usable http(s) link
    title: str
    summary: str  # plain text, HTML stripped and entities decoded
    source: str  # the outlet's name
    published: datetime | None  # timezone-aware (UTC), None when the feed gave no date
    feed_url: str = ""

    @property
    def key(self) -> str:
        """What identifies the story across feeds: its canonical URL, else feed + id."""
        return self.url or f"{self.feed_url}#{self.id}"


@dataclass(frozen=True, slots=True)
class TermHit:
    """One rule term found in a story: which term, in which field, as which words."""

    term: str  # the term as the admin wrote it
    field: str  # "title" or "summary"
    text: str  # the words of the story that matched
    start: int  # character offset in the field's normalised text
    similarity: float  # 0-100; 100 for an exact match
    concept: str = ""  # the named concept (rule language `concepts:`) the term belongs to, if any


@dataclass(frozen=True, slots=True)
class Match:
    """A topic a story matched, with the score and the evidence."""

    topic: str
    score: float  # 0-100: the rules' score
    hits: tuple[TermHit, ...] = ()
    meaning: float | None = None  # the meaning stage's probability of relevance, when it ran

    @property
    def terms(self) -> list[str]:
        """The distinct matched terms, in the order first found."""
        return list(dict.fromkeys(hit.term for hit in self.hits))


@dataclass(frozen=True, slots=True)
class Alert:
    """A story to post to one channel for one topic.

    `id` is stable (derived from channel and story key), so the same story can never become two
    alerts in one channel, and Slack message metadata can carry it for idempotent delivery.
    `parent_id` is set when the story reports an event already alerted on: it is then posted as a
    thread reply under that alert instead of a new top-level message.
    """

    id: str
    topic: str
    channel: str
    story: Story
    match: Match
    parent_id: str | None = None
    cluster_reason: str = ""  # the clustering trace, for logs and `explain`; never shown in Slack
    timezone: str = "UTC"  # IANA zone the channel reads times in (the topic's `timezone`)
    parent_published: datetime | None = None  # a reply: when its event's first alert was published


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP poll of a feed returned."""

    url: str  # final URL after redirects
    status: int
    body: bytes | None  # None when the server said 304 Not Modified
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    elapsed_ms: int = 0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Reaction:
    """One emoji on a Slack message, as Slack reports it.

    `users` may be shorter than `count`: Slack cuts long lists in history answers, the count stays
    exact.
    """

    name: str  # Slack's emoji name without colons, e.g. "+1", "x", "+1::skin-tone-3"
    users: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class ReactedMessage:
    """A message read back from Slack: where it is and its reactions (none is a valid answer)."""

    channel_id: str
    ts: str
    reactions: tuple[Reaction, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the readers of one alert said with their reactions (see bot/slack/feedback.py)."""

    label: str  # "relevant" or "irrelevant": the labels `newsbot eval` reads
    relevant: int  # votes for each label
    irrelevant: int
    voters: tuple[str, ...] = ()  # "label:user" for each vote whose user Slack named


@dataclass(frozen=True, slots=True)
class Feedback:
    """A verdict kept with the story and the alert it is about."""

    alert_id: str
    topic: str
    channel: str
    story: Story
    verdict: Verdict
    updated: float  # when the verdict last changed (Unix seconds)


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What chat.postMessage gets: mrkdwn `text` (notifications, fallback) and optional blocks.
    Built by `bot.alerts.format`; here because the state stores it (imports point down)."""

    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    """Where a message landed in Slack: the channel id (C…) and the message ts (its id there).
    Here because the outbox (a layer under the Slack edge) records it."""

    channel_id: str
    ts: str


@dataclass(frozen=True, slots=True)
class Post:
    """A message built whole by newsbot, queued and delivered like an alert (an "and N more"
    message, a digest part). Built by `bot.alerts.roundup`; stored by the state."""

    id: str  # stable: the same content in the same channel is the same post
    kind: str  # MORE (or "digest")
    topic: str
    channel: str
    message: SlackMessage
    label: str  # what the log and `status` call it
