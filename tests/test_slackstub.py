"""The Slack stand-in: wire protocol (raw HTTP and the real WebClient), methods, faults, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.slackstub import SlackStub


def call(
    stub: SlackStub,
    method: str,
    *,
    token: str | None = "default",
    form: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One raw HTTP call, the way slack_sdk makes it: POST /api/<method>."""
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {stub.token if token == 'default' else token}"
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json;charset=utf-8"
    elif form is not None:
        data = urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(stub.api_url + method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def client(stub: SlackStub, **kwargs: Any) -> WebClient:
    return WebClient(token=stub.token, base_url=stub.api_url, retry_handlers=[], **kwargs)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("default", None, id="good-token"),
        pytest.param(None, "not_authed", id="no-token"),
        pytest.param("xoxb-wrong", "invalid_auth", id="unknown-token"),
    ],
)
def test_auth_test_checks_the_bearer_token(
    slack: SlackStub, token: str | None, expected: str | None
) -> None:
    status, _, answer = call(slack, "auth.test", token=token)
    assert status == 200
    assert answer.get("error") == expected
    assert answer["ok"] is (expected is None)


@pytest.mark.parametrize(
    "encoding",
    [pytest.param("json", id="json-body"), pytest.param("form", id="form-body")],
)
def test_post_message_records_every_field(slack: SlackStub, encoding: str) -> None:
    fields = {
        "channel": "#news",
        "text": "hello",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
        "metadata": {"event_type": "newsbot_alert", "event_payload": {"alert_id": "a1"}},
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if encoding == "json":
        _, _, answer = call(slack, "chat.postMessage", body=fields)
    else:
        form = {**fields, "blocks": json.dumps(fields["blocks"])}
        form |= {"metadata": json.dumps(fields["metadata"]), "unfurl_links": "0"}
        _, _, answer = call(slack, "chat.postMessage", form={**form, "unfurl_media": "0"})
    assert answer["ok"], answer
    [message] = slack.messages
    assert answer["channel"] == message["channel"] == slack.channel_id("#news")
    assert message["channel_name"] == "news"
    assert message["ts"] == answer["ts"]
    assert message["blocks"] == fields["blocks"]
    assert message["metadata"] == fields["metadata"]
    assert (message["unfurl_links"], message["unfurl_media"]) == (False, False)
    assert slack.calls == ["chat.postMessage"]


def test_timestamps_are_unique_and_increasing(slack: SlackStub) -> None:
    web = client(slack)
    stamps = [web.chat_postMessage(channel="#news", text=str(i))["ts"] for i in range(50)]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 50


def test_post_by_id_and_by_name_land_in_the_same_channel(slack: SlackStub) -> None:
    channel_id = slack.add_channel("#alerts")
    web = client(slack)
    by_name = web.chat_postMessage(channel="#alerts", text="a")
    by_id = web.chat_postMessage(channel=channel_id, text="b")
    assert by_name["channel"] == by_id["channel"] == channel_id
    assert [m["text"] for m in slack.messages_in("#alerts")] == ["a", "b"]


def test_unknown_channel_id_is_channel_not_found(slack: SlackStub) -> None:
    _, _, answer = call(slack, "chat.postMessage", body={"channel": "C0NOTHERE0", "text": "x"})
    assert answer == {"ok": False, "error": "channel_not_found"}


def test_history_pages_newest_first_with_metadata_only_on_request(slack: SlackStub) -> None:
    web = client(slack)
    channel_id = slack.add_channel("#news")
    metadata = {"event_type": "newsbot_alert", "event_payload": {"alert_id": "x"}}
    stamps = [
        web.chat_postMessage(channel=channel_id, text=str(i), metadata=metadata)["ts"]
        for i in range(5)
    ]
    web.chat_postMessage(channel=channel_id, text="reply", thread_ts=stamps[0])
    seen, cursor = [], None
    while True:
        page = web.conversations_history(channel=channel_id, limit=2, cursor=cursor)
        seen += page["messages"]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [m["ts"] for m in seen] == stamps[::-1]  # thread replies are not in history
    assert all("metadata" not in m for m in seen)
    with_metadata = web.conversations_history(channel=channel_id, include_all_metadata=True)
    assert all(m["metadata"] == metadata for m in with_metadata["messages"])
    newer = web.conversations_history(channel=channel_id, oldest=stamps[2])
    assert [m["ts"] for m in newer["messages"]] == [stamps[4], stamps[3]]  # oldest is exclusive


def test_replies_list_the_thread(slack: SlackStub) -> None:
    web = client(slack)
    parent = web.chat_postMessage(channel="#news", text="parent")
    reply = web.chat_postMessage(channel="#news", text="reply", thread_ts=parent["ts"])
    thread = web.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    assert [m["ts"] for m in thread["messages"]] == [parent["ts"], reply["ts"]]


def test_history_wants_a_channel_id(slack: SlackStub) -> None:
    client(slack).chat_postMessage(channel="#news", text="x")
    with pytest.raises(SlackApiError) as raised:
        client(slack).conversations_history(channel="#news")
    assert raised.value.response["error"] == "channel_not_found"


def test_list_and_join(slack: SlackStub) -> None:
    public = slack.add_channel("#open", member=False)
    private = slack.add_channel("#secret", private=True, member=False)
    slack.set_channel_error("#gone", "channel_not_found")
    web = client(slack)
    listed = web.conversations_list(types="public_channel,private_channel")["channels"]
    assert {c["name"]: c["id"] for c in listed} == {"open": public, "secret": private}
    with pytest.raises(SlackApiError, match="not_in_channel"):
        web.chat_postMessage(channel=public, text="x")
    assert web.conversations_join(channel=public)["ok"]
    assert web.chat_postMessage(channel=public, text="x")["ok"]
    with pytest.raises(SlackApiError, match="method_not_supported_for_channel_type"):
        web.conversations_join(channel=private)


@pytest.mark.parametrize(
    ("error", "join_error"),
    [
        pytest.param("channel_not_found", "channel_not_found", id="gone"),
        pytest.param("is_archived", "is_archived", id="archived"),
        pytest.param("not_in_channel", None, id="not-in-channel-until-joined"),
    ],
)
def test_standing_channel_errors(slack: SlackStub, error: str, join_error: str | None) -> None:
    slack.set_channel_error("#c", error)
    _, _, answer = call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"})
    assert answer["error"] == error
    _, _, joined = call(slack, "conversations.join", body={"channel": slack.channel_id("#c")})
    assert joined.get("error") == join_error
    if join_error is None:
        _, _, again = call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"})
        assert again["ok"]


@pytest.mark.parametrize(
    ("setup", "fields", "expected"),
    [
        pytest.param(
            {"reject_blocks": True},
            {"blocks": [{"type": "divider"}]},
            "invalid_blocks",
            id="reject-blocks",
        ),
        pytest.param({}, {"blocks": [{"type": "divider"}] * 51}, "invalid_blocks", id="51-blocks"),
        pytest.param(
            {},
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            "invalid_blocks",
            id="section-3001",
        ),
        pytest.param(
            {},
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]},
            "invalid_blocks",
            id="header-151",
        ),
        pytest.param({"max_text_length": 10}, {"text": "x" * 11}, "msg_too_long", id="too-long"),
        pytest.param({}, {"text": ""}, "no_text", id="no-text"),
    ],
)
def test_message_validation(
    slack: SlackStub, setup: dict[str, Any], fields: dict[str, Any], expected: str
) -> None:
    for name, value in setup.items():
        setattr(slack, name, value)
    _, _, answer = call(slack, "chat.postMessage", body={"channel": "#c", "text": "t", **fields})
    assert answer == {"ok": False, "error": expected}
    assert slack.messages == []


@pytest.mark.parametrize(
    ("fault", "status", "error", "recorded"),
    [
        pytest.param({"status": 500}, 500, "internal_error", 0, id="500"),
        pytest.param({"status": 503, "record": True}, 503, "internal_error", 1, id="503-but-got"),
        pytest.param({"status": 429, "retry_after": 7}, 429, "ratelimited", 0, id="429"),
        pytest.param({"error": "channel_not_found"}, 200, "channel_not_found", 0, id="error"),
    ],
)
def test_scripted_faults_answer_once(
    slack: SlackStub, fault: dict[str, Any], status: int, error: str, recorded: int
) -> None:
    slack.fail_next("chat.postMessage", **fault)
    got_status, headers, answer = call(
        slack, "chat.postMessage", body={"channel": "#c", "text": "x"}
    )
    assert (got_status, answer["error"]) == (status, error)
    if status == 429:
        assert headers["Retry-After"] == "7"
    assert len(slack.messages) == recorded
    _, _, next_answer = call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"})
    assert next_answer["ok"]  # the fault was used up


@pytest.mark.parametrize(
    ("record", "recorded"),
    [pytest.param(True, 1, id="after-recording"), pytest.param(False, 0, id="before-recording")],
)
def test_dropped_connection(slack: SlackStub, record: bool, recorded: int) -> None:
    slack.fail_next("chat.postMessage", drop=True, record=record)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"})
    assert len(slack.messages) == recorded


def test_delay_records_then_answers_too_late(slack: SlackStub) -> None:
    slack.fail_next("chat.postMessage", delay=1.0)
    with pytest.raises(TimeoutError):
        call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"}, timeout=0.3)
    assert len(slack.messages) == 1  # Slack got it; the answer was lost


def test_rate_limit_per_channel(slack: SlackStub) -> None:
    slack.rate_limit = (1.0, 3)
    answers = [
        call(slack, "chat.postMessage", body={"channel": "#c", "text": "x"})[0] for _ in range(4)
    ]
    other = call(slack, "chat.postMessage", body={"channel": "#d", "text": "x"})[0]
    assert (answers, other) == ([200, 200, 200, 429], 200)
    assert slack.rate_limited == 1


def test_command_line_stub(tmp_path: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.slackstub", "--port", "0", "--token", "xoxb-cli"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        assert process.stdout is not None
        banner = process.stderr.readline()
        api_url = banner.strip().rsplit(" ", 1)[-1]
        base = api_url.removesuffix("/api/")
        fail = json.dumps({"method": "chat.postMessage", "status": 500}).encode()
        urllib.request.urlopen(urllib.request.Request(base + "/_stub/fail", data=fail)).close()
        web = WebClient(token="xoxb-cli", base_url=api_url, retry_handlers=[])
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="#news", text="first")
        web.chat_postMessage(channel="#news", text="second")
        printed = json.loads(process.stdout.readline())
        assert printed["text"] == "second"
        with urllib.request.urlopen(base + "/_stub/messages") as response:
            assert [m["text"] for m in json.loads(response.read())["messages"]] == ["second"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_wait_for_messages_times_out_clearly(slack: SlackStub) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="0 messages"):
        slack.wait_for_messages(1, timeout=0.1)
    assert time.monotonic() - started < 2


def test_scopes_travel_in_the_x_oauth_scopes_header_and_are_enforced(slack: SlackStub) -> None:
    slack.scopes.discard("channels:history")
    web = client(slack)
    scopes = web.auth_test().headers["x-oauth-scopes"]
    assert "chat:write" in scopes.split(",")
    assert "channels:history" not in scopes.split(",")
    channel = slack.add_channel("#news")
    with pytest.raises(SlackApiError) as raised:
        web.conversations_history(channel=channel)
    assert raised.value.response["error"] == "missing_scope"
    assert raised.value.response["needed"] == "channels:history"
    private = slack.add_channel("#secret", private=True)
    assert web.conversations_history(channel=private)["ok"]  # groups:history is still granted


def test_conversations_info_like_slack(slack: SlackStub) -> None:
    public = slack.add_channel("#open", member=False)
    outsider = slack.add_channel("#hidden", private=True, member=False)
    web = client(slack)
    info = web.conversations_info(channel=public)["channel"]
    assert (info["name"], info["is_private"], info["is_member"]) == ("open", False, False)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web.conversations_info(channel=outsider)  # a private channel the bot is not in
    slack.scopes.discard("channels:read")
    with pytest.raises(SlackApiError, match="missing_scope"):
        web.conversations_info(channel=public)


def test_reactions_show_in_history_and_replies_like_slack(slack: SlackStub) -> None:
    web = client(slack)
    parent = web.chat_postMessage(channel="#news", text="alert")
    reply = web.chat_postMessage(channel="#news", text="reply", thread_ts=parent["ts"])
    plain = web.chat_postMessage(channel="#news", text="no reactions")
    slack.add_reaction("#news", parent["ts"], "thumbsup", user="U1")  # stored as Slack does: +1
    slack.add_reaction("#news", parent["ts"], ":x:", user="U2")
    slack.add_reaction("#news", parent["ts"], "+1", user="U3")
    slack.add_reaction("#news", reply["ts"], "-1", user="U1")
    history = web.conversations_history(channel=parent["channel"])["messages"]
    shown = {m["ts"]: m for m in history}
    assert shown[parent["ts"]]["reactions"] == [
        {"name": "+1", "users": ["U1", "U3"], "count": 2},
        {"name": "x", "users": ["U2"], "count": 1},
    ]
    assert "reactions" not in shown[plain["ts"]]  # Slack leaves the key out when there are none
    assert reply["ts"] not in shown
    thread = web.conversations_replies(channel=parent["channel"], ts=parent["ts"])["messages"]
    assert thread[1]["reactions"] == [{"name": "-1", "users": ["U1"], "count": 1}]


def test_reaction_changes_follow_slacks_rules(slack: SlackStub) -> None:
    posted = client(slack).chat_postMessage(channel="#news", text="alert")
    slack.add_reaction("#news", posted["ts"], "-1", user="U1")
    with pytest.raises(ValueError, match="already_reacted"):
        slack.add_reaction("#news", posted["ts"], "thumbsdown", user="U1")
    with pytest.raises(ValueError, match="no_reaction"):
        slack.remove_reaction("#news", posted["ts"], "+1", user="U1")
    with pytest.raises(ValueError, match="message_not_found"):
        slack.add_reaction("#news", "1.000001", "+1")
    slack.remove_reaction("#news", posted["ts"], "-1", user="U1")
    (message,) = client(slack).conversations_history(channel=posted["channel"])["messages"]
    assert "reactions" not in message


def test_reactions_get_answers_like_slack(slack: SlackStub) -> None:
    web = client(slack)
    posted = web.chat_postMessage(channel="#news", text="alert")
    for user in ("U1", "U2", "U3"):
        slack.add_reaction("#news", posted["ts"], "white_check_mark", user=user)
    slack.reaction_users_cap = 2
    got = web.reactions_get(channel=posted["channel"], timestamp=posted["ts"])
    assert (got["type"], got["channel"]) == ("message", posted["channel"])
    assert got["message"]["ts"] == posted["ts"]
    assert got["message"]["permalink"].startswith("https://")
    assert got["message"]["reactions"] == [
        {"name": "white_check_mark", "users": ["U1", "U2"], "count": 3}
    ]  # cut list, exact count
    full = web.reactions_get(channel=posted["channel"], timestamp=posted["ts"], full=True)
    assert full["message"]["reactions"][0]["users"] == ["U1", "U2", "U3"]
    with pytest.raises(SlackApiError) as missing:
        web.reactions_get(channel=posted["channel"], timestamp="1.000001")
    assert missing.value.response["error"] == "message_not_found"


@pytest.mark.parametrize(
    ("scope", "method", "private"),
    [
        pytest.param("channels:history", "conversations_history", False, id="public-history"),
        pytest.param("groups:history", "conversations_history", True, id="private-history"),
        pytest.param("reactions:read", "reactions_get", False, id="reactions-get"),
    ],
)
def test_a_missing_scope_is_answered_with_the_scope_needed(
    slack: SlackStub, scope: str, method: str, private: bool
) -> None:
    channel_id = slack.add_channel("team", private=private)
    posted = client(slack).chat_postMessage(channel=channel_id, text="alert")
    slack.scopes.discard(scope)
    args = {"channel": channel_id}
    if method == "reactions_get":
        args["timestamp"] = posted["ts"]
    with pytest.raises(SlackApiError) as refused:
        getattr(client(slack), method)(**args)
    answer = refused.value.response.data
    assert (answer["error"], answer["needed"]) == ("missing_scope", scope)
    assert scope not in answer["provided"]
    assert "chat:write" in answer["provided"]


def test_the_reaction_control_endpoint(slack: SlackStub) -> None:
    posted = client(slack).chat_postMessage(channel="#news", text="alert")

    def control(spec: dict[str, Any]) -> int:
        request = urllib.request.Request(
            slack.url + "/_stub/reaction", data=json.dumps(spec).encode()
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code)

    assert control({"channel": "#news", "ts": posted["ts"], "name": "x"}) == 200
    assert slack.messages[0]["reactions"] == [{"name": "x", "users": ["U0000000002"]}]
    assert control({"channel": "#news", "ts": "1.000001", "name": "x"}) == 400
    assert control({"channel": "#news", "ts": posted["ts"], "name": "x", "remove": True}) == 200
    assert slack.messages[0]["reactions"] == []


def test_command_line_stub_with_scopes_and_channels() -> None:
    command = [sys.executable, "-m", "tests.slackstub", "--port", "0", "--no-auto-create"]
    command += ["--scopes", "chat:write,channels:read", "--channel", "news"]
    command += ["--channel", "secret:private:outsider"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        api_url = process.stderr.readline().strip().rsplit(" ", 1)[-1]
        web = WebClient(token="xoxb-test-token", base_url=api_url, retry_handlers=[])
        assert web.auth_test().headers["x-oauth-scopes"] == "channels:read,chat:write"
        listed = web.conversations_list(types="public_channel")["channels"]
        assert [(c["name"], c["is_member"]) for c in listed] == [("news", True)]
        with pytest.raises(SlackApiError, match="channel_not_found"):
            web.chat_postMessage(channel="#elsewhere", text="x")  # no auto-created channels
        with pytest.raises(SlackApiError, match="not_in_channel"):
            web.chat_postMessage(channel="#secret", text="x")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
