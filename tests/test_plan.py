"""bot/alerts/plan.py: the planning stage, pure and table-driven (no store, no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts.admission import PollPolicy
from bot.alerts.plan import Candidate, alert_id, plan
from bot.matching.cluster import PriorReport, Profile, report_of
from bot.models import DIGEST, DigestSchedule, Match, Story, Topic

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
POLICY = PollPolicy(backfill_hours=24, max_alerts_per_poll=3)
REALTIME_TOPIC = Topic("frt", ("#alerts",), "ban")
SECOND_TOPIC = Topic("frt-too", ("#alerts", "#other"), "ban")
DIGEST_TOPIC = Topic("weekly", ("#digest",), "ban", delivery=DIGEST, digest=DigestSchedule())


def story(n: int, title: str, hours_ago: float = 1.0) -> Story:
    published = NOW - timedelta(hours=hours_ago)
    return Story(f"s{n}", f"https://news.example/{n}", title, f"{title}.", "Outlet", published)


def matched(stories: list[Story], *topics: Topic) -> list[Candidate]:
    chosen = topics or (REALTIME_TOPIC,)
    return [(s, t, Match(t.name, 100.0)) for s in stories for t in chosen]


def no_reports(channel: str, since: float, url: str, like: Profile | None) -> list[PriorReport]:
    return []


DISTINCT = [
    "Springfield council bans facial recognition for police",
    "Ogdenville mayor signs moratorium on face scanning",
    "Regulator fines retailer over biometric cameras",
    "Court rules airport face checks unlawful",
    "Capital City repeals its surveillance ordinance",
]


@pytest.mark.parametrize(
    ("case", "candidates", "first_poll", "alerts", "held", "posts", "skipped"),
    [
        pytest.param(
            "a later poll alerts every new match",
            matched([story(1, DISTINCT[0]), story(2, DISTINCT[1])]),
            False,
            2,
            0,
            0,
            0,
            id="later-poll",
        ),
        pytest.param(
            "a first poll only marks older stories seen",
            matched([story(1, DISTINCT[0]), story(2, DISTINCT[1], hours_ago=48)]),
            True,
            1,
            0,
            0,
            1,
            id="first-poll-backfill",
        ),
        pytest.param(
            "over the per-poll cap: one 'and N more' message",
            matched([story(n, DISTINCT[n]) for n in range(5)]),
            False,
            3,
            0,
            1,
            0,
            id="per-poll-cap",
        ),
        pytest.param(
            "two topics route one story to one channel: one alert there, one in the other",
            matched([story(1, DISTINCT[0])], REALTIME_TOPIC, SECOND_TOPIC),
            False,
            2,
            0,
            0,
            0,
            id="one-alert-per-channel",
        ),
        pytest.param(
            "a digest topic's stories are held, never alerted",
            matched([story(1, DISTINCT[0]), story(2, DISTINCT[1])], DIGEST_TOPIC),
            False,
            0,
            2,
            0,
            0,
            id="digest-held",
        ),
    ],
)
def test_plan_decides_alerts_held_posts_and_skips(
    case: str,
    candidates: list[Candidate],
    first_poll: bool,
    alerts: int,
    held: int,
    posts: int,
    skipped: int,
) -> None:
    decided = plan(
        candidates,
        first_poll=first_poll,
        policy=POLICY,
        now=NOW.timestamp(),
        reports=no_reports,
        source="Outlet",
    )
    assert len(decided.alerts) == alerts, case
    assert len(decided.held) == held, case
    assert len(decided.posts) == posts, case
    assert len(decided.intake.skipped) == skipped, case


def test_plan_folds_a_second_report_in_one_batch_into_a_reply() -> None:
    first = story(1, "Springfield council bans facial recognition for police")
    second = Story(
        "s2",
        "https://other.example/2",
        "Springfield bans police facial recognition, council votes",
        "Springfield's council voted to ban facial recognition for police.",
        "Other Outlet",
        NOW - timedelta(minutes=30),
    )
    decided = plan(
        matched([first, second]),
        first_poll=False,
        policy=POLICY,
        now=NOW.timestamp(),
        reports=no_reports,
        source="Outlet",
    )
    top, reply = decided.alerts
    assert top.parent_id is None
    assert reply.parent_id == top.id
    assert reply.cluster_reason.startswith(f"folded into alert {top.id}")


def test_plan_folds_into_an_alert_already_stored() -> None:
    earlier = story(9, "Springfield council bans facial recognition for police", hours_ago=3)
    stored = report_of("stored-alert", earlier, NOW - timedelta(hours=3), None)

    def reports(channel: str, since: float, url: str, like: Profile | None) -> list[PriorReport]:
        return [stored] if channel == "#alerts" else []

    later = Story(
        "s2",
        "https://other.example/2",
        "Springfield bans police facial recognition, council votes",
        "Springfield's council voted to ban facial recognition for police.",
        "Other Outlet",
        NOW - timedelta(minutes=30),
    )
    decided = plan(
        matched([later]),
        first_poll=False,
        policy=POLICY,
        now=NOW.timestamp(),
        reports=reports,
        source="Outlet",
    )
    (alert,) = decided.alerts
    assert alert.parent_id == "stored-alert"


def test_alert_identity_is_one_per_story_and_channel() -> None:
    one = story(1, DISTINCT[0])
    same_url_other_feed = Story("other-id", one.url, "Another headline", "", "Other", None)
    assert alert_id("#alerts", one) == alert_id("#alerts", same_url_other_feed)
    assert alert_id("#alerts", one) != alert_id("#other", one)
