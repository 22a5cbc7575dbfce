"""Slack calls over kept-alive connections (bot/slack/transport.py), against the stand-in.

What must hold besides the saving: a post is never sent twice behind the outbox's back, a late
answer is never read as the answer to the next post, and a connection Slack closed while idle
costs nothing but a new connection.
"""

from __future__ import annotations

import threading

import pytest

from bot.errors import DeliveryError
from bot.models import SlackMessage
from bot.slack.deliver import SlackSender
from tests.slackstub import SlackStub

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])


def test_posts_from_one_thread_share_one_connection(slack: SlackStub, sender: SlackSender) -> None:
    posted = [sender.post(f"a{n}", "#news", MESSAGE) for n in range(5)]
    assert [p.ts for p in posted] == [m["ts"] for m in slack.messages]
    assert slack.connections == 1  # urlopen opened five


def test_each_thread_has_its_own_connection(slack: SlackStub, sender: SlackSender) -> None:
    def post_three(name: str) -> None:
        for n in range(3):
            sender.post(f"{name}-{n}", f"#{name}", MESSAGE)

    threads = [threading.Thread(target=post_three, args=(f"c{k}",)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slack.messages) == 9
    assert slack.connections == 3


def test_a_connection_slack_closed_while_idle_is_replaced_without_an_error(
    slack: SlackStub, sender: SlackSender
) -> None:
    slack.close_idle = True  # each answer, then the server hangs up without saying so
    posted = []
    for n in range(3):
        posted.append(sender.post(f"a{n}", "#news", MESSAGE))
        slack.wait_idle_closed(n + 1)  # idle, then closed: not closing as the next post goes
    assert [p.ts for p in posted] == [m["ts"] for m in slack.messages]
    assert slack.calls.count("chat.postMessage") == 3  # none sent twice
    assert slack.connections == 3


def test_slack_saying_connection_close_is_honoured(slack: SlackStub, sender: SlackSender) -> None:
    slack.keep_alive = False
    for n in range(3):
        sender.post(f"a{n}", "#news", MESSAGE)
    assert len(slack.messages) == 3
    assert slack.connections == 3


def test_a_late_answer_is_never_read_as_the_next_posts_answer(
    slack: SlackStub, sender: SlackSender
) -> None:
    sender.post("warm-up", "#news", MESSAGE)  # the connection is now kept alive
    slack.fail_next("chat.postMessage", delay=1.5)  # recorded, answered after the client gave up
    with pytest.raises(DeliveryError) as raised:
        sender.post("late", "#news", MESSAGE)
    assert raised.value.code == "timeout"
    posted = sender.post("next", "#news", MESSAGE)
    next_message = slack.messages[-1]
    assert next_message["metadata"]["event_payload"]["alert_id"] == "next"
    assert posted.ts == next_message["ts"]  # not the late post's ts


def test_a_post_on_a_connection_that_dies_is_not_sent_again(
    slack: SlackStub, sender: SlackSender
) -> None:
    sender.post("warm-up", "#news", MESSAGE)
    slack.fail_next("chat.postMessage", drop=True)  # Slack recorded it, then the line dropped
    with pytest.raises(DeliveryError) as raised:
        sender.post("dropped", "#news", MESSAGE)
    assert raised.value.code == "connection"
    assert slack.calls.count("chat.postMessage") == 2  # the outbox decides, after its history check
    assert sender.post("after", "#news", MESSAGE).ts == slack.messages[-1]["ts"]


def test_a_read_on_a_connection_that_dies_is_tried_once_more(
    slack: SlackStub, sender: SlackSender
) -> None:
    posted = sender.post("a1", "#news", MESSAGE)
    slack.fail_next("conversations.history", drop=True, record=False)
    found = sender.find_posted("#news", "a1", oldest=0.0)
    assert found == posted
    assert slack.calls.count("conversations.history") == 2


def test_close_releases_the_connections(slack: SlackStub) -> None:
    sender = SlackSender(slack.token, slack.api_url, timeout=0.5)
    sender.post("a1", "#news", MESSAGE)
    sender.close()
    sender.post("a2", "#news", MESSAGE)  # still usable: a new connection
    sender.close()
    assert slack.connections == 2
