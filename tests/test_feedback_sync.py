"""Reading reactions back: the real SlackSender (slack_sdk) against the Slack stand-in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.alerts.format import render_alert, render_reply
from bot.models import Alert, Match, Story
from bot.slack.deliver import SlackSender
from bot.slack.feedback import IRRELEVANT, RELEVANT, FeedbackSync
from bot.state.sqlite import SqliteStore as Store
from tests.helpers import queue_alerts
from tests.slackstub import SlackStub


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class World:
    def __init__(self, slack: SlackStub, tmp_path: Path) -> None:
        self.slack = slack
        self.store = Store(tmp_path / "state.db")
        self.rate_limit_sleeps: list[float] = []
        self.sender = SlackSender(slack.token, slack.api_url, sleep=self.rate_limit_sleeps.append)
        self.time = FakeTime()
        self.sync = FeedbackSync(
            self.store, self.sender, monotonic=self.time.monotonic, sleep=self.time.sleep
        )
        self.n = 0
        self.ts: dict[str, str] = {}

    def alert(self, channel: str = "#frt-alerts", parent: Alert | None = None) -> tuple[Alert, str]:
        self.n += 1
        story = Story(
            f"s{self.n}",
            f"https://news.example/{self.n}",
            f"City bans facial recognition {self.n}",
            "The council voted.",
            "Outlet",
            datetime.now(UTC),
        )
        alert = Alert(
            f"a{self.n}", "frt", channel, story, Match("frt", 90.0), parent.id if parent else None
        )
        queue_alerts(self.store, [alert])
        thread_ts = self.ts[parent.id] if parent else None
        message = render_reply(alert) if parent else render_alert(alert)
        posted = self.sender.post(alert.id, channel, message, thread_ts=thread_ts)
        self.store.mark_sent(alert.id, posted.channel_id, posted.ts)
        self.ts[alert.id] = posted.ts
        return alert, posted.ts

    def labels(self) -> dict[str, str]:
        return {f.alert_id: f.verdict.label for f in self.store.feedback_list()}

    def calls(self, method: str) -> int:
        return self.slack.calls.count(method)


@pytest.fixture
def world(slack: SlackStub, tmp_path: Path) -> Iterator[World]:
    made = World(slack, tmp_path)
    yield made
    made.store.close()


def test_a_reaction_becomes_a_verdict_with_one_history_call_per_channel(world: World) -> None:
    first, ts1 = world.alert()
    world.alert()
    third, ts3 = world.alert()
    world.slack.add_reaction("#frt-alerts", ts1, "-1")
    world.slack.add_reaction("#frt-alerts", ts3, "white_check_mark", user="U7")
    report = world.sync.sync(days=7)
    assert report.ok, report.line()
    assert world.labels() == {first.id: IRRELEVANT, third.id: RELEVANT}
    assert (report.alerts, report.channels, report.calls, report.changed) == (3, 1, 1, 2)
    assert world.calls("conversations.history") == 1
    assert "reactions.get" not in world.slack.calls  # not one call per alert
    (kept,) = [f for f in world.store.feedback_list() if f.alert_id == first.id]
    assert kept.story.title == "City bans facial recognition 1"
    assert kept.verdict.voters == ("irrelevant:U0000000002",)


def test_a_second_sync_changes_nothing_and_keeps_the_time_of_the_verdict(world: World) -> None:
    _, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "x")
    world.sync.sync(days=7)
    (before,) = world.store.feedback_list()
    report = world.sync.sync(days=7)
    assert (report.changed, report.cleared) == (0, 0)
    assert world.store.feedback_list() == [before]


def test_the_latest_reactions_win_and_removing_them_clears_the_verdict(world: World) -> None:
    alert, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "+1")
    world.sync.sync(days=7)
    assert world.labels() == {alert.id: RELEVANT}
    world.slack.add_reaction("#frt-alerts", ts, "-1", user="U8")  # a tie: the newest wins
    world.sync.sync(days=7)
    assert world.labels() == {alert.id: IRRELEVANT}
    world.slack.remove_reaction("#frt-alerts", ts, "+1")
    world.slack.remove_reaction("#frt-alerts", ts, "-1", user="U8")
    report = world.sync.sync(days=7)
    assert report.cleared == 1
    assert world.labels() == {}


def test_reactions_on_thread_replies_are_read_with_one_replies_call_per_thread(
    world: World,
) -> None:
    parent, _ = world.alert()
    reply, reply_ts = world.alert(parent=parent)
    world.alert(parent=parent)
    world.slack.add_reaction("#frt-alerts", reply_ts, "thumbsdown")
    report = world.sync.sync(days=7)
    assert report.ok, report.line()
    assert world.labels() == {reply.id: IRRELEVANT}
    assert (world.calls("conversations.history"), world.calls("conversations.replies")) == (1, 1)


def test_cut_user_lists_still_count_every_vote(world: World) -> None:
    _alert, ts = world.alert()
    for user in ("U1", "U2", "U3"):
        world.slack.add_reaction("#frt-alerts", ts, "-1", user=user)
    for user in ("U4", "U5"):
        world.slack.add_reaction("#frt-alerts", ts, "+1", user=user)
    world.slack.reaction_users_cap = 1
    world.sync.sync(days=7)
    (kept,) = world.store.feedback_list()
    assert (kept.verdict.label, kept.verdict.relevant, kept.verdict.irrelevant) == (
        IRRELEVANT,
        2,
        3,
    )


def test_alerts_older_than_the_window_are_not_read(world: World) -> None:
    _, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "-1")
    world.store._write("UPDATE alerts SET delivered = delivered - 8 * 86400")
    report = world.sync.sync(days=7)
    assert (report.alerts, report.calls) == (0, 0)
    assert world.labels() == {}


def test_a_message_gone_from_slack_keeps_its_verdict(world: World) -> None:
    alert, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "-1")
    world.sync.sync(days=7)
    world.slack.messages.clear()  # deleted in Slack
    report = world.sync.sync(days=7)
    assert report.cleared == 0
    assert world.labels() == {alert.id: IRRELEVANT}


def test_a_missing_scope_is_logged_once_and_the_other_channels_are_still_read(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.slack.add_channel("private-team", private=True)
    world.alert(channel="#private-team")
    public, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "-1")
    world.slack.scopes.discard("groups:history")
    with caplog.at_level(logging.ERROR, logger="bot.slack.feedback"):
        first = world.sync.sync(days=7)
        second = world.sync.sync(days=7)
    assert world.labels() == {public.id: IRRELEVANT}
    assert not first.ok
    assert not second.ok
    assert "#private-team: missing_scope: add the groups:history scope" in first.line()
    scope_errors = [rec for rec in caplog.records if getattr(rec, "error", "") == "missing_scope"]
    assert len(scope_errors) == 1
    assert "groups:history" in scope_errors[0].fix  # type: ignore[attr-defined]
    world.slack.scopes.add(
        "groups:history"
    )  # the admin adds the scope: read again, logged again if lost
    assert world.sync.sync(days=7).ok


def test_a_429_is_waited_out_and_a_lasting_one_ends_the_sync_without_losing_anything(
    world: World,
) -> None:
    alert, ts = world.alert()
    world.slack.add_reaction("#frt-alerts", ts, "-1")
    world.slack.fail_next("conversations.history", status=429, retry_after=2)
    report = world.sync.sync(days=7)
    assert report.ok, report.line()
    assert world.rate_limit_sleeps == [2.0]  # Retry-After, waited out by the Slack client
    assert world.labels() == {alert.id: IRRELEVANT}
    world.slack.add_reaction("#frt-alerts", ts, "+1", user="U9")
    world.slack.add_reaction("#frt-alerts", ts, "+1::skin-tone-2", user="U10")
    world.slack.fail_next("conversations.history", status=429, retry_after=1, times=4)
    report = world.sync.sync(days=7)
    assert report.stopped == "rate limited by Slack"
    assert world.labels() == {alert.id: IRRELEVANT}  # unchanged, not lost
    report = world.sync.sync(days=7)  # the next sync goes on
    assert report.ok
    assert world.labels() == {alert.id: RELEVANT}


def test_a_rejected_token_ends_the_sync(world: World) -> None:
    world.alert()
    world.alert(channel="#other")
    world.slack.tokens = {"xoxb-another"}
    report = world.sync.sync(days=7)
    assert report.stopped == "Slack rejected the token (invalid_auth)"
    assert report.calls == 1  # not one failing call per channel


def test_calls_are_paced_under_slacks_tier_3_limit(world: World) -> None:
    for n in range(12):
        world.alert(channel=f"#team-{n}")
    report = world.sync.sync(days=7)
    assert report.calls == 12
    # 10 go at once (the burst), then 40 a minute: 1.5 s apart
    assert world.time.slept == pytest.approx([1.5, 1.5])
