"""The outbox against the Slack stand-in: every Slack fault ends in delivery, once, in order."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.alerts.format import render_alert, render_fallback
from bot.alerts.outbox import Outbox
from bot.alerts.pacing import ChannelPacer
from bot.models import Alert, Match, Story, TermHit
from bot.service.metrics import Metrics
from bot.slack.deliver import SlackSender
from bot.state.sqlite import SqliteStore as Store
from tests.helpers import queue_alerts
from tests.slackstub import SlackStub


def make_alert(n: int, channel: str = "#news", parent: str | None = None, title: str = "") -> Alert:
    story = Story(
        f"s{n}",
        f"https://news.example/{n}",
        title or f"Council bans face scanning {n}",
        "A summary.",
        "Outlet",
        datetime(2026, 11, 1, tzinfo=UTC),
        "https://f.example/",
    )
    match = Match("frt", 90.0, (TermHit("ban", "title", "bans", 8, 100.0),))
    return Alert(f"alert-{channel.strip('#')}-{n:03d}", "frt", channel, story, match, parent)


def queue(store: Store, alerts: list[Alert]) -> None:
    queue_alerts(store, alerts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "outbox.db")
    yield opened
    opened.close()


@pytest.fixture
def sender(slack: SlackStub) -> Iterator[SlackSender]:
    client = SlackSender(slack.token, slack.api_url, timeout=1.0)
    yield client
    client.close()


def outbox(store: Store, sender: SlackSender, rate: float = 500.0) -> Outbox:
    return Outbox(store, sender, Metrics(), pacer=ChannelPacer(rate=rate, burst=5))


def alert_ids(slack: SlackStub) -> list[str]:
    return [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages]


def test_a_burst_is_delivered_in_order_through_rate_limits(
    store: Store, sender: SlackSender, slack: SlackStub
) -> None:
    slack.rate_limit = (40.0, 5.0)  # the stand-in answers 429 + Retry-After above this
    alerts = [make_alert(n) for n in range(120)]
    queue(store, alerts)
    box = outbox(store, sender, rate=40.0)
    while store.outbox_depth():
        box.drain(ignore_backoff=True)
    assert alert_ids(slack) == [alert.id for alert in alerts]


def test_429_with_retry_after_is_waited_out(
    store: Store, sender: SlackSender, slack: SlackStub
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    queue(store, [make_alert(1), make_alert(2)])
    outbox(store, sender).drain(ignore_backoff=True)
    assert alert_ids(slack) == ["alert-news-001", "alert-news-002"]
    assert sender.rate_limit_waits == 1


def test_drains_given_one_held_set_act_as_one_drain(
    store: Store, sender: SlackSender, slack: SlackStub
) -> None:
    """`run --once` drains while it polls and once more at the end, with one `held` set: a
    channel that failed in the first is not tried again in the second; the others are."""
    slack.fail_next("chat.postMessage", status=500, record=False)
    queue(store, [make_alert(1), make_alert(2)])
    box = outbox(store, sender)
    held: set[str] = set()
    first = box.drain(ignore_backoff=True, held=held)
    assert (first.sent, first.failed, held) == (0, 1, {"#news"})
    queue(store, [make_alert(3, "#other")])  # queued between the two drains
    second = box.drain(ignore_backoff=True, held=held)
    assert alert_ids(slack) == ["alert-other-003"]  # #news waits for the next run
    assert second.sent == 1
    box.drain(ignore_backoff=True)  # the next run
    assert alert_ids(slack) == ["alert-other-003", "alert-news-001", "alert-news-002"]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"status": 500, "record": False}, id="http-500"),
        pytest.param({"status": 502, "record": False}, id="http-502"),
        pytest.param({"status": 503, "record": False}, id="http-503"),
        pytest.param({"delay": 2.5}, id="timeout-after-slack-got-it"),
        pytest.param({"drop": True}, id="dropped-after-slack-got-it"),
        pytest.param({"drop": True, "record": False}, id="dropped-before-slack-got-it"),
    ],
)
def test_transport_failures_end_in_exactly_one_delivery_in_order(
    store: Store, sender: SlackSender, slack: SlackStub, fault: dict[str, object]
) -> None:
    slack.fail_next("chat.postMessage", times=3, **fault)  # type: ignore[arg-type]
    queue(store, [make_alert(1), make_alert(2), make_alert(3, "#other")])
    box = outbox(store, sender)
    for _ in range(6):  # an outage of several rounds, then Slack is back
        box.drain(ignore_backoff=True)
    ids = alert_ids(slack)
    assert sorted(ids) == ["alert-news-001", "alert-news-002", "alert-other-003"]
    news = [i for i in ids if "news" in i]
    assert news == ["alert-news-001", "alert-news-002"]
    assert store.outbox_depth() == 0


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "account_inactive"])
def test_auth_failure_stops_posting_keeps_the_queue_and_logs_once(
    store: Store, slack: SlackStub, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    queue(store, [make_alert(n) for n in range(3)] + [make_alert(9, "#other")])
    bad = SlackSender("xoxb-wrong-token", slack.api_url, timeout=1.0)
    if code != "invalid_auth":
        slack.fail_next("chat.postMessage", error=code, times=5)
        bad.close()
        bad = SlackSender(slack.token, slack.api_url, timeout=1.0)
    box = outbox(store, bad)
    with caplog.at_level(logging.ERROR):
        box.drain()
        box.drain()
    bad.close()
    assert slack.messages == []
    assert store.outbox_depth() == 4
    assert box.auth_error == code
    assert sum("rejected the token" in r.getMessage() for r in caplog.records) == 1
    assert "xoxb-wrong-token" not in caplog.text


@pytest.mark.parametrize("code", ["channel_not_found", "is_archived", "not_in_channel"])
def test_a_broken_channel_is_parked_and_other_channels_go_on(
    store: Store, sender: SlackSender, slack: SlackStub, code: str
) -> None:
    slack.set_channel_error("#broken", code)
    if code == "not_in_channel":
        slack.add_channel("secret", private=True, member=False)
        slack.set_channel_error("#secret", "not_in_channel")
        channel = "#secret"  # private: the bot cannot join by itself
    else:
        channel = "#broken"
    queue(store, [make_alert(1, channel), make_alert(2, channel), make_alert(3, "#fine")])
    outbox(store, sender).drain()
    assert alert_ids(slack) == ["alert-fine-003"]
    assert store.parked() == [(channel, code, 2)]


def test_not_in_a_public_channel_joins_it_and_posts(
    store: Store, sender: SlackSender, slack: SlackStub
) -> None:
    slack.add_channel("public-news", member=False)
    slack.set_channel_error("#public-news", "not_in_channel")
    queue(store, [make_alert(1, "#public-news")])
    outbox(store, sender).drain()
    assert alert_ids(slack) == ["alert-public-news-001"]
    assert "conversations.join" in slack.calls


@pytest.mark.parametrize("condition", ["msg_too_long", "invalid_blocks"])
def test_a_refused_message_falls_back_to_short_plain_text(
    store: Store, sender: SlackSender, slack: SlackStub, condition: str
) -> None:
    alert = make_alert(1, title="Ban on face scanning " + "very long " * 60)
    if condition == "msg_too_long":
        short = len(render_fallback(alert).text)
        assert len(render_alert(alert).text) > short + 1, "the case needs a longer full text"
        slack.max_text_length = short + 1
    else:
        slack.reject_blocks = True
    queue(store, [alert])
    outbox(store, sender).drain()
    (message,) = slack.messages
    assert not message.get("blocks")
    assert "Ban on face scanning" in message["text"]


def test_a_reply_goes_into_its_parents_thread_and_is_not_doubled_after_a_lost_answer(
    store: Store, sender: SlackSender, slack: SlackStub
) -> None:
    parent = make_alert(1)
    reply = make_alert(2, parent=parent.id)
    queue(store, [parent, reply])
    box = outbox(store, sender)
    box.drain()  # the parent
    slack.fail_next("chat.postMessage", drop=True)
    box.drain(ignore_backoff=True)
    box.drain(ignore_backoff=True)
    assert len(slack.messages) == 2
    assert slack.messages[1]["thread_ts"] == slack.messages[0]["ts"]


def test_a_drain_reads_each_channels_head_once_not_once_per_alert(
    store: Store, sender: SlackSender, slack: SlackStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: the heads of every channel are read when the drain starts and when it runs out
    of channels, not before each alert; a channel's next alert is claimed straight away. Each
    channel still goes out in order, the two channels alternate, and an alert queued while the
    drain runs is still delivered by it."""
    reads = []
    real = store.queued_heads
    monkeypatch.setattr(store, "queued_heads", lambda: reads.append(1) or real())
    a = [make_alert(n, "#a") for n in range(20)]
    b = [make_alert(n, "#b") for n in range(20)]
    queue(store, [alert for pair in zip(a, b, strict=True) for alert in pair])
    late = make_alert(99, "#c")
    real_post = sender.post

    def post(*args: object, **kwargs: object) -> object:
        if len(slack.messages) == 10:  # an alert of a new channel, queued mid-drain
            queue(store, [late])
        return real_post(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sender, "post", post)
    result = outbox(store, sender, rate=10000.0).drain(ignore_backoff=True)
    posted = alert_ids(slack)
    assert result.sent == 41
    assert [i for i in posted if "-a-" in i] == [alert.id for alert in a]
    assert [i for i in posted if "-b-" in i] == [alert.id for alert in b]
    assert posted[:4] == [a[0].id, b[0].id, a[1].id, b[1].id]  # the channels take turns
    assert posted[-1] == late.id
    assert len(reads) <= 3  # at the start, once the two channels ran out, and at the end
