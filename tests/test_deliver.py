"""deliver.py against the Slack stand-in, through the real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import io
import logging
import socket
import time
import traceback
from typing import Any

import pytest

from bot.alerts.format import render_alert, render_fallback
from bot.errors import DeliveryAction, DeliveryError, classify
from bot.models import SlackMessage
from bot.slack.deliver import Posted, SlackSender, TerminalSender
from tests.slackstub import SlackStub
from tests.test_format import sample_alert

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])


def test_post_sends_metadata_with_unfurling_off(slack: SlackStub, sender: SlackSender) -> None:
    posted = sender.post("alert-1", "#news", render_alert(sample_alert()))
    [message] = slack.messages
    assert posted == Posted(slack.channel_id("#news"), message["ts"])
    assert message["metadata"] == {
        "event_type": "newsbot_alert",
        "event_payload": {"alert_id": "alert-1"},
    }
    assert (message["unfurl_links"], message["unfurl_media"]) == (False, False)
    assert message["link_names"] is False
    assert message["blocks"] == render_alert(sample_alert()).blocks


def test_post_in_a_thread(slack: SlackStub, sender: SlackSender) -> None:
    parent = sender.post("a1", "#news", MESSAGE)
    reply = sender.post("a2", "#news", SlackMessage("also"), thread_ts=parent.ts)
    assert slack.messages[1]["thread_ts"] == parent.ts
    assert reply.ts != parent.ts


def test_rate_limit_is_waited_out_and_counted(slack: SlackStub, sender: SlackSender) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    sender.post("a1", "#news", MESSAGE)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured, not hammered
    assert sender.rate_limit_waits == 1
    assert slack.calls == ["chat.postMessage", "chat.postMessage"]
    assert len(slack.messages) == 1


def test_rate_limit_gives_up_after_the_retries(slack: SlackStub) -> None:
    waits: list[float] = []
    sender = SlackSender(slack.token, slack.api_url, max_rate_limit_retries=2, sleep=waits.append)
    slack.fail_next("chat.postMessage", status=429, retry_after=7, times=3)
    with pytest.raises(DeliveryError) as raised:
        sender.post("a1", "#news", MESSAGE)
    assert (raised.value.code, raised.value.retryable, raised.value.retry_after) == (
        "ratelimited",
        True,
        7.0,
    )
    assert waits == [7.0, 7.0]
    assert sender.rate_limit_waits == 2


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "action"),
    [
        pytest.param({"status": 500}, "http_500", True, DeliveryAction.RETRY, id="500"),
        pytest.param({"status": 502}, "http_502", True, DeliveryAction.RETRY, id="502"),
        pytest.param({"status": 503}, "http_503", True, DeliveryAction.RETRY, id="503"),
        pytest.param({"delay": 2.0}, "timeout", True, DeliveryAction.RETRY, id="timeout"),
        pytest.param(
            {"drop": True, "record": False},
            "connection",
            True,
            DeliveryAction.RETRY,
            id="drop-before",
        ),
        pytest.param({"drop": True}, "connection", True, DeliveryAction.RETRY, id="drop-after"),
        pytest.param(
            {"error": "invalid_auth"}, "invalid_auth", False, DeliveryAction.AUTH, id="invalid_auth"
        ),
        pytest.param(
            {"error": "not_authed"}, "not_authed", False, DeliveryAction.AUTH, id="not_authed"
        ),
        pytest.param(
            {"error": "account_inactive"},
            "account_inactive",
            False,
            DeliveryAction.AUTH,
            id="account_inactive",
        ),
        pytest.param(
            {"error": "channel_not_found"},
            "channel_not_found",
            False,
            DeliveryAction.PARK,
            id="channel_not_found",
        ),
        pytest.param(
            {"error": "not_in_channel"},
            "not_in_channel",
            False,
            DeliveryAction.PARK,
            id="not_in_channel",
        ),
        pytest.param(
            {"error": "is_archived"}, "is_archived", False, DeliveryAction.PARK, id="is_archived"
        ),
        pytest.param(
            {"error": "msg_too_long"},
            "msg_too_long",
            False,
            DeliveryAction.SHORTEN,
            id="msg_too_long",
        ),
        pytest.param(
            {"error": "invalid_blocks"},
            "invalid_blocks",
            False,
            DeliveryAction.SHORTEN,
            id="invalid_blocks",
        ),
        pytest.param(
            {"error": "internal_error"},
            "internal_error",
            True,
            DeliveryAction.RETRY,
            id="internal_error",
        ),
        pytest.param(
            {"error": "something_new"}, "something_new", False, DeliveryAction.DROP, id="unknown"
        ),
    ],
)
def test_failures_become_delivery_errors(
    slack: SlackStub,
    sender: SlackSender,
    fault: dict[str, Any],
    code: str,
    retryable: bool,
    action: DeliveryAction,
) -> None:
    slack.fail_next("chat.postMessage", **fault)
    with pytest.raises(DeliveryError) as raised:
        sender.post("a1", "#news", MESSAGE)
    assert (raised.value.code, raised.value.retryable) == (code, retryable)
    assert raised.value.channel == "#news"
    assert classify(raised.value.code) == action
    assert slack.calls.count("chat.postMessage") == 1  # never re-sent behind the outbox's back


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        pytest.param(
            lambda s: s.set_channel_error("#news", "channel_not_found"),
            "channel_not_found",
            id="standing-channel-not-found",
        ),
        pytest.param(
            lambda s: s.set_channel_error("#news", "is_archived"),
            "is_archived",
            id="standing-archived",
        ),
        pytest.param(
            lambda s: s.add_channel("#news", member=False), "not_in_channel", id="not-a-member"
        ),
        pytest.param(
            lambda s: setattr(s, "reject_blocks", True), "invalid_blocks", id="blocks-rejected"
        ),
        pytest.param(lambda s: setattr(s, "max_text_length", 3), "msg_too_long", id="too-long"),
    ],
)
def test_standing_conditions(slack: SlackStub, sender: SlackSender, setup: Any, code: str) -> None:
    setup(slack)
    with pytest.raises(DeliveryError) as raised:
        sender.post("a1", "#news", MESSAGE)
    assert raised.value.code == code


def test_shorten_then_fallback_gets_through(slack: SlackStub, sender: SlackSender) -> None:
    slack.reject_blocks = True
    alert = sample_alert()
    with pytest.raises(DeliveryError) as raised:
        sender.post(alert.id, "#news", render_alert(alert))
    assert classify(raised.value.code) == DeliveryAction.SHORTEN
    sender.post(alert.id, "#news", render_fallback(alert))
    assert slack.messages[0]["blocks"] is None


def test_timeout_after_slack_received_it_is_found_not_reposted(
    slack: SlackStub, sender: SlackSender
) -> None:
    before = time.time() - 1
    sender.post("earlier", "#news", MESSAGE)  # another alert, already in the channel
    slack.fail_next("chat.postMessage", delay=2.0)
    with pytest.raises(DeliveryError) as raised:
        sender.post("a1", "#news", MESSAGE)
    assert raised.value.code == "timeout"
    found = sender.find_posted("#news", "a1", oldest=before)
    assert found == Posted(slack.channel_id("#news"), slack.messages[1]["ts"])
    assert sender.find_posted("#news", "never-sent", oldest=before) is None
    assert len(slack.messages) == 2


def test_find_posted_pages_through_history_and_resolves_names(
    slack: SlackStub, sender: SlackSender
) -> None:
    for number in range(450):
        sender.post(f"alert-{number}", "#busy", MESSAGE)
    lookup = SlackSender(slack.token, slack.api_url)  # a fresh process: no cached channel ids
    found = lookup.find_posted("#busy", "alert-3", oldest=0)
    assert found is not None
    assert found.ts == slack.messages[3]["ts"]
    assert lookup.find_posted("#busy", "alert-1", oldest=float(slack.messages[2]["ts"])) is None
    assert slack.calls.count("conversations.list") == 1  # the name was resolved once, cached
    assert slack.calls.count("conversations.history") >= 3


def test_find_posted_looks_in_threads_when_told(slack: SlackStub, sender: SlackSender) -> None:
    parent = sender.post("parent", "#news", MESSAGE)
    sender.post("reply", "#news", SlackMessage("also"), thread_ts=parent.ts)
    assert sender.find_posted("#news", "reply", oldest=0) is None  # history omits replies
    found = sender.find_posted("#news", "reply", oldest=0, thread_ts=parent.ts)
    assert found is not None
    assert found.ts == slack.messages[1]["ts"]


def test_find_posted_in_unknown_channel(slack: SlackStub, sender: SlackSender) -> None:
    with pytest.raises(DeliveryError) as raised:
        sender.find_posted("#nowhere", "a1", oldest=0)
    assert raised.value.code == "channel_not_found"


@pytest.mark.parametrize(
    ("setup", "joined"),
    [
        pytest.param(lambda s: s.add_channel("#news", member=False), True, id="public"),
        pytest.param(
            lambda s: s.add_channel("#news", private=True, member=False), False, id="private"
        ),
        pytest.param(lambda s: s.set_channel_error("#news", "is_archived"), False, id="archived"),
        pytest.param(lambda s: None, False, id="unknown"),
    ],
)
def test_join(slack: SlackStub, sender: SlackSender, setup: Any, joined: bool) -> None:
    setup(slack)
    assert sender.join("#news") is joined
    if joined:
        sender.post("a1", "#news", MESSAGE)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("good", None, id="ok"),
        pytest.param("xoxb-revoked", "invalid_auth", id="invalid"),
    ],
)
def test_check_auth(slack: SlackStub, token: str, expected: str | None) -> None:
    sender = SlackSender(slack.token if token == "good" else token, slack.api_url)
    assert sender.check_auth() == expected


def test_unreachable_api() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    sender = SlackSender("xoxb-x", f"http://127.0.0.1:{port}/api", timeout=1)
    assert sender.check_auth() == "connection"
    with pytest.raises(DeliveryError) as raised:
        sender.post("a1", "#news", MESSAGE)
    assert (raised.value.code, raised.value.retryable) == ("connection", True)


@pytest.mark.parametrize(
    ("code", "action"),
    [
        pytest.param(code, action, id=code)
        for code, action in [
            ("timeout", DeliveryAction.RETRY),
            ("connection", DeliveryAction.RETRY),
            ("ratelimited", DeliveryAction.RETRY),
            ("http_500", DeliveryAction.RETRY),
            ("http_504", DeliveryAction.RETRY),
            ("http_404", DeliveryAction.AUTH),
            ("invalid_auth", DeliveryAction.AUTH),
            ("not_authed", DeliveryAction.AUTH),
            ("account_inactive", DeliveryAction.AUTH),
            ("token_revoked", DeliveryAction.AUTH),
            ("missing_scope", DeliveryAction.AUTH),
            ("channel_not_found", DeliveryAction.PARK),
            ("not_in_channel", DeliveryAction.PARK),
            ("is_archived", DeliveryAction.PARK),
            ("msg_too_long", DeliveryAction.SHORTEN),
            ("invalid_blocks", DeliveryAction.SHORTEN),
            ("msg_blocks_too_long", DeliveryAction.SHORTEN),
            ("invalid_arguments", DeliveryAction.DROP),
        ]
    ],
)
def test_classify(code: str, action: DeliveryAction) -> None:
    assert classify(code) is action  # the enum member itself, for deliver, outbox and service


def test_token_never_in_logs_or_errors(slack: SlackStub, caplog: pytest.LogCaptureFixture) -> None:
    token = "xoxb-SECRET-123456789-abcdefghijklmnop"
    slack.tokens.add(token)
    sender = SlackSender(token, slack.api_url, timeout=0.3, sleep=lambda _: None)
    failures: list[BaseException] = []
    caplog.set_level(logging.DEBUG)  # slack_sdk's own debug logging included
    faults: list[dict[str, Any]] = [
        {"status": 500},
        {"status": 429, "retry_after": 1, "times": 4},
        {"delay": 1.0},
        {"drop": True},
        {"error": "invalid_auth"},
        {"error": "channel_not_found"},
    ]
    for fault in faults:
        slack.fail_next("chat.postMessage", **fault)
        try:
            sender.post("a1", "#news", MESSAGE)
        except DeliveryError as error:
            failures.append(error)
    slack.tokens.discard(token)  # now the token itself is refused
    assert sender.check_auth() == "invalid_auth"
    with pytest.raises(DeliveryError) as raised:
        sender.find_posted("#news", "a1", oldest=0)
    failures.append(raised.value)
    assert len(failures) == len(faults) + 1
    texts = [record.getMessage() for record in caplog.records]
    texts += [str(record.__dict__) for record in caplog.records]
    texts += ["".join(traceback.format_exception(error)) for error in failures]
    texts += [repr(error) for error in failures] + [repr(sender)]
    assert all(token not in text for text in texts)
    assert any(getattr(r, "status", None) == "http_500" for r in caplog.records)


def test_terminal_sender_prints_plain_text() -> None:
    stream = io.StringIO()
    sender = TerminalSender(stream)
    posted = sender.post("a1", "#news", render_alert(sample_alert(title="A & B <tag>")))
    assert posted.channel_id == "#news"
    printed = stream.getvalue()
    assert printed.startswith("-> #news\n*A & B <tag> (https://news.example/")
    assert sender.find_posted("#news", "a1", oldest=0) is None
