"""A Slack Web API stand-in on 127.0.0.1 that speaks the real wire protocol, with fault injection.

The real `slack_sdk.WebClient(base_url=stub.api_url)` talks to it unchanged: POST /api/<method>
with a form, JSON or query-string body, `Authorization: Bearer <token>`, JSON answers
`{"ok": true, ...}` / `{"ok": false, "error": "..."}`, HTTP 429 with `Retry-After`.

Methods: auth.test, chat.postMessage, chat.update, conversations.history, conversations.replies,
conversations.list, conversations.info, conversations.join, reactions.get (needs
reactions:read). Like Slack, conversations.history
lists top-level messages only (thread replies are in conversations.replies) and leaves `metadata`
out unless `include_all_metadata` is set; `oldest`/`latest` are exclusive unless `inclusive`.

Scopes, as Slack does them: every answer carries the token's scopes in the `x-oauth-scopes`
header (and the method's in `x-accepted-oauth-scopes`); a method called without its scope answers
`{"ok": false, "error": "missing_scope", "needed": ..., "provided": ...}`. `stub.scopes` holds the
granted set (all of FULL_SCOPES by default): `stub.scopes.discard("channels:history")`.
conversations.list lists only the channel types the scopes allow (public: channels:read, private:
groups:read); conversations.info, history and replies need the scope of the channel's type, and
a private channel the bot is not in is `channel_not_found` to them, like Slack.

Reactions, as a reader adds them in the Slack client: `stub.add_reaction(channel, ts, "+1",
user="U0000000002")` and `stub.remove_reaction(...)` (Slack's errors `message_not_found`,
`already_reacted`, `no_reaction` raise ValueError; `thumbsup`/`thumbsdown` are stored as Slack
stores them, `+1`/`-1`). Like Slack, history, replies and reactions.get show them on each
message as `"reactions": [{"name": "+1", "users": ["U..."], "count": 2}]` in the order each emoji
was first added, and leave the key out when there are none; `reaction_users_cap = n` cuts each
`users` list to n (the count stays) unless reactions.get is called with `full`.

Faults (a FIFO queue per method, consumed one per request):
    stub.fail_next("chat.postMessage", status=500)                 # HTTP 500, nothing recorded
    stub.fail_next("chat.postMessage", status=429, retry_after=1)  # rate limited
    stub.fail_next("chat.postMessage", error="channel_not_found")  # 200 {"ok": false, ...}
    stub.fail_next("chat.postMessage", delay=2.0)   # recorded, answered after the client gave up
    stub.fail_next("chat.postMessage", drop=True)   # recorded, connection closed without answer
    stub.fail_next("chat.postMessage", drop=True, record=False)   # closed before recording
Standing conditions: `set_channel_error("#gone", "channel_not_found")` (also "is_archived",
"not_in_channel": the latter cleared by conversations.join), `add_channel(name, private=...,
member=...)`, `reject_blocks = True` (invalid_blocks), `max_text_length` (msg_too_long),
`rate_limit = (per_second, burst)` (429 per channel, like Slack's chat.postMessage limit).
Channels named in a post are created on first use (`auto_create`), like a workspace where every
channel the bot is told about exists.

Connections: kept alive between requests, as Slack's are (`stub.keep_alive = False` answers with
"Connection: close"; `stub.close_idle = True` closes each one after its answer without saying
so, as an idle timeout does); `stub.connections` counts the TCP connections accepted.

Recording: `stub.messages` (dicts: channel, channel_name, ts, text, blocks, thread_ts, metadata,
unfurl_links, unfurl_media, ...), `stub.calls` (method names in order), `stub.requests` (method and
parameters, never the token). The pytest fixture `slack` yields a running stub.

Command line (for subprocess tests and demos): `python -m tests.slackstub [--host 127.0.0.1]
[--port N] [--token T] [--scopes a,b] [--channel NAME[:private][:outsider]] [--no-auto-create]`
(e.g. `newsbot slack-test` against a workspace missing a channel or a scope) prints each posted
message as a JSON line on stdout, its API URL on stderr, and serves `GET /_stub/messages`,
`GET /_stub/calls`, `POST /_stub/fail` (JSON body: the keyword arguments of `fail_next`, plus
"method"), `POST /_stub/channel_error` and `POST /_stub/reaction` (JSON: channel, ts, name,
optional user, optional "remove": true).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

DEFAULT_TOKEN = "xoxb-test-token"
FULL_SCOPES = frozenset(
    {
        "chat:write",
        "channels:history",
        "groups:history",
        "channels:read",
        "groups:read",
        "channels:join",
        "reactions:read",
    }
)
READER = "U0000000002"  # the default user who reacts
_REACTION_ALIASES = {"thumbsup": "+1", "thumbsdown": "-1"}  # Slack stores the canonical name
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{8,}")
Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


@dataclass
class Fault:
    """One scripted misbehaviour for the next request to a method."""

    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    record: bool | None = None  # None: True for delay/drop ("Slack got it"), False otherwise

    @property
    def records(self) -> bool:
        if self.record is not None:
            return self.record
        return self.delay > 0 or self.drop


@dataclass
class Channel:
    id: str
    name: str
    private: bool = False
    member: bool = True
    error: str | None = None  # standing error: channel_not_found, is_archived, not_in_channel
    tokens: float = 0.0  # rate-limit bucket
    updated: float = 0.0

    @property
    def archived(self) -> bool:
        return self.error == "is_archived"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.private,
            "is_private": self.private,
            "is_archived": self.archived,
            "is_member": self.member,
        }


@dataclass
class _State:
    channels: dict[str, Channel] = field(default_factory=dict)  # by id
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    last_ts: int = 0  # microseconds


class SlackStub:
    """The stand-in server. Start with `start()` (or use it as a context manager)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens: tuple[str, ...] = (DEFAULT_TOKEN,),
        on_post: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.tokens = set(tokens)
        self.token = tokens[0]
        self.messages: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.reject_blocks = False
        self.max_text_length = 40_000
        self.auto_create = True
        self.rate_limit: tuple[float, float] | None = None  # (per second, burst) per channel
        self.rate_limited = 0  # how many 429s the rate limit produced
        self.scopes: set[str] = set(FULL_SCOPES)  # granted to the token (x-oauth-scopes)
        self.reaction_users_cap: int | None = None  # cut `users` lists like Slack's history
        self.on_post = on_post
        # Like Slack, answers keep the connection open for the next request (HTTP/1.1
        # keep-alive); False answers with "Connection: close". `close_idle` closes each
        # connection right after its answer without saying so, as a server's idle timeout does.
        self.keep_alive = True
        self.close_idle = False
        self.connections = 0  # TCP connections accepted
        self.idle_closed = 0  # connections hung up after their answer (`close_idle`)
        self._open: set[Any] = set()  # their sockets, shut down by close()
        self._state = _State()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = False  # joined on close, so no socket outlives the test
        self._server.stub = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """What to pass as WebClient(base_url=...) or SLACK_API_URL (ends with a slash)."""
        return f"{self.url}/api/"

    def start(self) -> SlackStub:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes delayed answers so their threads end now
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:  # kept-alive connections: their handler threads end now
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlackStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ scripting
    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        record: bool | None = None,
        times: int = 1,
    ) -> None:
        """Queue `times` faults for the next requests to `method` (see the module docstring)."""
        if status == 200 and error is None and not delay and not drop:
            raise ValueError("fail_next: give a status, an error, a delay or drop=True")
        with self._lock:
            queue = self._state.faults.setdefault(method, deque())
            for _ in range(times):
                queue.append(Fault(status, error, retry_after, delay, drop, record))

    def add_channel(
        self, name: str, *, private: bool = False, member: bool = True, channel_id: str = ""
    ) -> str:
        """Create a channel; returns its id (C… for public, G… for private)."""
        with self._lock:
            return self._add_channel(name.lstrip("#"), private, member, channel_id).id

    def set_channel_error(self, channel: str, error: str | None) -> None:
        """A standing error for posts to `channel` ('#name' or id); None clears it."""
        with self._lock:
            found = self._find_channel(channel) or self._add_channel(channel.lstrip("#"))
            found.error = error
            if error == "not_in_channel":
                found.member = False

    def channel_id(self, channel: str) -> str:
        with self._lock:
            found = self._find_channel(channel) or self._add_channel(channel.lstrip("#"))
            return found.id

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        """Recorded messages of one channel ('#name' or id), oldest first."""
        with self._lock:
            found = self._find_channel(channel)
            return [m for m in self.messages if found and m["channel"] == found.id]

    def add_reaction(self, channel: str, ts: str, name: str, user: str = READER) -> None:
        """A reader adds a reaction to a message (reactions.add as a user would call it)."""
        with self._lock:
            message = self._message(channel, ts)
            name = _REACTION_ALIASES.get(name.strip(":"), name.strip(":"))
            reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
            found = next((r for r in reactions if r["name"] == name), None)
            if found is None:
                reactions.append({"name": name, "users": [user]})
            elif user in found["users"]:
                raise ValueError("already_reacted")
            else:
                found["users"].append(user)

    def remove_reaction(self, channel: str, ts: str, name: str, user: str = READER) -> None:
        """A reader takes a reaction back (reactions.remove)."""
        with self._lock:
            message = self._message(channel, ts)
            name = _REACTION_ALIASES.get(name.strip(":"), name.strip(":"))
            reactions: list[dict[str, Any]] = message.get("reactions", [])
            found = next((r for r in reactions if r["name"] == name), None)
            if found is None or user not in found["users"]:
                raise ValueError("no_reaction")
            found["users"].remove(user)
            if not found["users"]:
                reactions.remove(found)

    def _message(self, channel: str, ts: str) -> dict[str, Any]:
        found = self._find_channel(channel)
        for message in self.messages:
            if found is not None and message["channel"] == found.id and message["ts"] == ts:
                return message
        raise ValueError("message_not_found")

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least `count` messages were posted (for subprocess tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(
            f"slackstub: {len(self.messages)} messages after {timeout}s, not {count}"
        )

    def wait_idle_closed(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` connections were hung up after their answer (`close_idle`): the
        next call then finds its kept-alive connection closed while idle, not closing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.idle_closed >= count:
                    return
            time.sleep(0.005)
        raise AssertionError(f"slackstub: {self.idle_closed} idle hang-ups after {timeout}s")

    # ------------------------------------------------------------------ request handling
    def handle(self, method: str, params: dict[str, Any], token: str | None) -> Answer:
        """Answer one API call. Called by the HTTP handler under no lock."""
        with self._lock:
            if not token:
                return _error("not_authed")
            if token not in self.tokens:
                return _error("invalid_auth")
            handler = _METHODS.get(method)
            if handler is None:
                return _error("unknown_method")
            needed = self._scope_needed(method, params)
            if needed and needed not in self.scopes:
                return _missing_scope(needed, self.scopes)
            try:
                return handler(self, params)
            except (ValueError, TypeError):  # e.g. limit=abc: Slack says invalid_arguments
                return _error("invalid_arguments")

    def take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        """Note the call (faulty or not, it reached Slack) and take its scripted fault, if any."""
        with self._lock:
            self.calls.append(method)
            self.requests.append({"method": method, "params": params})
            queue = self._state.faults.get(method)
            return queue.popleft() if queue else None

    def _add_channel(
        self, name: str, private: bool = False, member: bool = True, channel_id: str = ""
    ) -> Channel:
        prefix = "G" if private else "C"
        new_id = channel_id or f"{prefix}{len(self._state.channels) + 1:010d}"
        channel = Channel(new_id, name, private, member, tokens=0.0, updated=0.0)
        self._state.channels[new_id] = channel
        return channel

    def _find_channel(self, ref: str) -> Channel | None:
        if ref in self._state.channels:
            return self._state.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self._state.channels.values() if c.name == name), None)

    def _resolve_for_post(self, ref: str) -> Channel | None:
        found = self._find_channel(ref)
        if found is None and self.auto_create and ref and not _CHANNEL_ID.fullmatch(ref):
            found = self._add_channel(ref.lstrip("#"))
        return found

    def _next_ts(self) -> str:
        now = int(time.time() * 1_000_000)
        self._state.last_ts = max(now, self._state.last_ts + 1)
        return f"{self._state.last_ts // 1_000_000}.{self._state.last_ts % 1_000_000:06d}"

    def _rate_limited(self, channel: Channel) -> bool:
        if self.rate_limit is None:
            return False
        per_second, burst = self.rate_limit
        now = time.monotonic()
        if channel.updated == 0.0:
            channel.tokens, channel.updated = burst, now
        channel.tokens = min(burst, channel.tokens + (now - channel.updated) * per_second)
        channel.updated = now
        if channel.tokens < 1.0:
            self.rate_limited += 1
            return True
        channel.tokens -= 1.0
        return False

    def _scope_needed(self, method: str, params: dict[str, Any]) -> str | None:
        """The scope Slack requires for this call (for channel methods: by the channel's type)."""
        fixed = _METHOD_SCOPES.get(method)
        if fixed is not None:
            return fixed
        if method in ("conversations.history", "conversations.replies", "conversations.info"):
            channel = self._state.channels.get(str(params.get("channel", "")))
            private = channel is not None and channel.private
            kind = "read" if method == "conversations.info" else "history"
            return f"{'groups' if private else 'channels'}:{kind}"
        if method == "conversations.list":
            types = str(params.get("types") or "public_channel").split(",")
            allowed = {"public_channel": "channels:read", "private_channel": "groups:read"}
            wanted = [allowed[t] for t in types if t in allowed]
            if wanted and not any(scope in self.scopes for scope in wanted):
                return wanted[0]
        return None

    def accepted_scopes(self, method: str) -> str:
        """The x-accepted-oauth-scopes header: the scopes this method can work with."""
        if method in _METHOD_SCOPES:
            return _METHOD_SCOPES[method] or ""
        if method in ("conversations.history", "conversations.replies"):
            return "channels:history,groups:history"
        if method in ("conversations.list", "conversations.info"):
            return "channels:read,groups:read"
        return ""

    # ------------------------------------------------------------------ API methods
    def _auth_test(self, params: dict[str, Any]) -> Answer:
        return _ok(
            url="https://stub.slack.test/",
            team="Stub",
            user="newsbot",
            team_id="T0000000001",
            user_id="U0000000001",
            bot_id="B0000000001",
        )

    def _post_message(self, params: dict[str, Any]) -> Answer:
        channel = self._resolve_for_post(str(params.get("channel", "")))
        refusal = self._refuse_post(channel, params)
        if refusal:
            return _error(refusal)
        assert channel is not None
        if self._rate_limited(channel):
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        message = self._record(channel, params)
        return _ok(channel=channel.id, ts=message["ts"], message=self._as_history(message, True))

    def _refuse_post(self, channel: Channel | None, params: dict[str, Any]) -> str | None:
        if channel is None or channel.error == "channel_not_found":
            return "channel_not_found"
        if channel.error:
            return channel.error
        if not channel.member:
            return "not_in_channel"
        text, blocks = params.get("text") or "", _json_field(params.get("blocks"))
        if not text and not blocks:
            return "no_text"
        if len(text) > self.max_text_length:
            return "msg_too_long"
        if blocks is not None and (self.reject_blocks or not _blocks_valid(blocks)):
            return "invalid_blocks"
        return None

    def _record(self, channel: Channel, params: dict[str, Any]) -> dict[str, Any]:
        message = {
            "channel": channel.id,
            "channel_name": channel.name,
            "ts": self._next_ts(),
            "text": params.get("text") or "",
            "blocks": _json_field(params.get("blocks")),
            "thread_ts": params.get("thread_ts") or None,
            "metadata": _json_field(params.get("metadata")),
            "unfurl_links": _flag(params.get("unfurl_links")),
            "unfurl_media": _flag(params.get("unfurl_media")),
            "parse": params.get("parse"),
            "link_names": _flag(params.get("link_names")),
        }
        self.messages.append(message)
        if self.on_post is not None:
            self.on_post(message)
        return message

    def _update(self, params: dict[str, Any]) -> Answer:
        channel = self._find_channel(str(params.get("channel", "")))
        if channel is None:
            return _error("channel_not_found")
        for message in self.messages:
            if message["channel"] == channel.id and message["ts"] == params.get("ts"):
                message["text"] = params.get("text") or message["text"]
                message["blocks"] = _json_field(params.get("blocks")) or message["blocks"]
                return _ok(channel=channel.id, ts=message["ts"], text=message["text"])
        return _error("message_not_found")

    def _history(self, params: dict[str, Any]) -> Answer:
        channel = self._state.channels.get(str(params.get("channel", "")))  # ids only, like Slack
        if channel is None or channel.error == "channel_not_found":
            return _error("channel_not_found")
        top_level = [m for m in self.messages if m["channel"] == channel.id and _top_level(m)]
        return self._page(top_level, params)

    def _replies(self, params: dict[str, Any]) -> Answer:
        channel = self._state.channels.get(str(params.get("channel", "")))
        if channel is None or channel.error == "channel_not_found":
            return _error("channel_not_found")
        parent = str(params.get("ts", ""))
        thread = [
            m
            for m in self.messages
            if m["channel"] == channel.id and (m["ts"] == parent or m["thread_ts"] == parent)
        ]
        if not thread:
            return _error("thread_not_found")
        oldest_first = sorted(thread, key=lambda m: _ts_key(m["ts"]))
        return self._page(oldest_first, params, newest_first=False)

    def _page(
        self, messages: list[dict[str, Any]], params: dict[str, Any], *, newest_first: bool = True
    ) -> Answer:
        inclusive = _flag(params.get("inclusive"))
        oldest = _ts_key(params.get("oldest") or "0")
        latest = _ts_key(params.get("latest") or "9999999999.999999")
        chosen = [m for m in messages if _in_range(_ts_key(m["ts"]), oldest, latest, inclusive)]
        chosen.sort(key=lambda m: _ts_key(m["ts"]), reverse=newest_first)
        start = int(params.get("cursor") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        metadata = _flag(params.get("include_all_metadata"))
        return _ok(
            messages=[self._as_history(m, metadata) for m in page],
            has_more=more,
            response_metadata={"next_cursor": str(start + limit) if more else ""},
        )

    def _reactions_get(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel") or not params.get("timestamp"):
            return _error("no_item_specified")
        channel = self._state.channels.get(str(params["channel"]))
        if channel is None or channel.error == "channel_not_found":
            return _error("channel_not_found")
        ts = str(params["timestamp"])
        message = next(
            (m for m in self.messages if m["channel"] == channel.id and m["ts"] == ts), None
        )
        if message is None:
            return _error("message_not_found")
        shown = self._as_history(message, False, full=_flag(params.get("full")))
        shown["permalink"] = f"https://stub.slack.test/archives/{channel.id}/p{ts.replace('.', '')}"
        return _ok(type="message", channel=channel.id, message=shown)

    def _as_history(
        self, message: dict[str, Any], metadata: bool, *, full: bool = False
    ) -> dict[str, Any]:
        shown = {
            "type": "message",
            "ts": message["ts"],
            "text": message["text"],
            "bot_id": "B0000000001",
            "user": "U0000000001",
        }
        if message["blocks"] is not None:
            shown["blocks"] = message["blocks"]
        if message["thread_ts"]:
            shown["thread_ts"] = message["thread_ts"]
        if metadata and message["metadata"] is not None:
            shown["metadata"] = message["metadata"]
        if message.get("reactions"):  # like Slack: no key at all when there are none
            cap = None if full else self.reaction_users_cap
            shown["reactions"] = [
                {"name": r["name"], "users": list(r["users"][:cap]), "count": len(r["users"])}
                for r in message["reactions"]
            ]
        return shown

    def _info(self, params: dict[str, Any]) -> Answer:
        channel = self._state.channels.get(str(params.get("channel", "")))  # ids only, like Slack
        if channel is None or channel.error == "channel_not_found":
            return _error("channel_not_found")
        if channel.private and not channel.member:  # invisible to a bot that is not in it
            return _error("channel_not_found")
        return _ok(channel=channel.as_json())

    def _list(self, params: dict[str, Any]) -> Answer:
        types = str(params.get("types") or "public_channel").split(",")
        types = [
            t
            for t in types
            if {"public_channel": "channels:read", "private_channel": "groups:read"}.get(t, "")
            in self.scopes
        ]
        exclude_archived = _flag(params.get("exclude_archived"))
        listed = [
            c.as_json()
            for c in self._state.channels.values()
            if c.error != "channel_not_found"
            and ("private_channel" if c.private else "public_channel") in types
            and not (exclude_archived and c.archived)
        ]
        start = int(params.get("cursor") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        more = start + limit < len(listed)
        return _ok(
            channels=listed[start : start + limit],
            response_metadata={"next_cursor": str(start + limit) if more else ""},
        )

    def _join(self, params: dict[str, Any]) -> Answer:
        channel = self._state.channels.get(str(params.get("channel", "")))
        if channel is None or channel.error == "channel_not_found":
            return _error("channel_not_found")
        if channel.archived:
            return _error("is_archived")
        if channel.private:
            return _error("method_not_supported_for_channel_type")
        channel.member = True
        if channel.error == "not_in_channel":
            channel.error = None
        return _ok(channel=channel.as_json())


_METHODS: dict[str, Callable[[SlackStub, dict[str, Any]], Answer]] = {
    "auth.test": SlackStub._auth_test,
    "chat.postMessage": SlackStub._post_message,
    "chat.update": SlackStub._update,
    "conversations.history": SlackStub._history,
    "conversations.replies": SlackStub._replies,
    "conversations.list": SlackStub._list,
    "conversations.info": SlackStub._info,
    "conversations.join": SlackStub._join,
    "reactions.get": SlackStub._reactions_get,
}


# Methods whose scope does not depend on the channel (None: no scope needed).
_METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "conversations.join": "channels:join",
    "reactions.get": "reactions:read",
}


def _missing_scope(needed: str, granted: set[str]) -> Answer:
    body = {"ok": False, "error": "missing_scope", "needed": needed}
    return 200, {**body, "provided": ",".join(sorted(granted))}, {}


class _Handler(BaseHTTPRequestHandler):
    """One HTTP request: parse like Slack does, apply a scripted fault, answer JSON."""

    server_version = "slackstub/1"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, a kept-alive client would wait for
    # its own delayed ACK (40 ms) before the body came. Slack's servers send at once too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep stderr quiet
        pass

    def setup(self) -> None:
        super().setup()
        with self.stub._lock:
            self.stub.connections += 1
            self.stub._open.add(self.connection)

    def finish(self) -> None:
        with self.stub._lock:
            self.stub._open.discard(self.connection)
        super().finish()

    @property
    def stub(self) -> SlackStub:
        return self.server.stub  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_stub/messages":
            self._send(200, {"ok": True, "messages": self.stub.messages})
        elif path == "/_stub/calls":
            self._send(200, {"ok": True, "calls": self.stub.calls})
        elif path.startswith("/api/"):
            self._api(path[len("/api/") :], self._read_params(b""))
        else:
            self._send(404, {"ok": False, "error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/_stub/"):
            self._control(path, body)
        elif path.startswith("/api/"):
            self._api(path[len("/api/") :], self._read_params(body))
        else:
            self._send(404, {"ok": False, "error": "not_found"})

    def _api(self, method: str, params: dict[str, Any]) -> None:
        self._scope_headers = {
            "x-oauth-scopes": ",".join(sorted(self.stub.scopes)),
            "x-accepted-oauth-scopes": self.stub.accepted_scopes(method),
        }
        token = self._token(params)
        fault = self.stub.take_fault(method, params)
        if fault is None:
            self._send(*self.stub.handle(method, params, token))
            return
        answer = self.stub.handle(method, params, token) if fault.records else None
        if fault.drop:
            self.close_connection = True  # no status line at all: the client sees a disconnect
            return
        if fault.delay and self.stub._stopping.wait(fault.delay):
            self.close_connection = True
            return
        if fault.status != 200 or fault.error:
            self._send(*_fault_answer(fault))
        elif answer is not None:
            self._send(*answer)
        else:
            self._send(*self.stub.handle(method, params, token))

    def _control(self, path: str, body: bytes) -> None:
        try:
            spec = json.loads(body or b"{}")
            if path == "/_stub/fail":
                self.stub.fail_next(spec.pop("method"), **spec)
            elif path == "/_stub/channel_error":
                self.stub.set_channel_error(spec["channel"], spec.get("error"))
            elif path == "/_stub/reaction":
                change = self.stub.remove_reaction if spec.get("remove") else self.stub.add_reaction
                change(spec["channel"], spec["ts"], spec["name"], spec.get("user") or READER)
            else:
                self._send(404, {"ok": False, "error": "not_found"})
                return
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"ok": False, "error": f"bad_request: {exc}"})
            return
        self._send(200, {"ok": True})

    def _token(self, params: dict[str, Any]) -> str | None:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :].strip()
        token = params.pop("token", None)
        return str(token) if token else None

    def _read_params(self, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(urlsplit(self.path).query))
        content_type = self.headers.get("Content-Type", "")
        if body and content_type.startswith("application/json"):
            params.update(json.loads(body))
        elif body:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        return params

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if not self.stub.keep_alive:
                self.send_header("Connection", "close")
            for name, value in {**getattr(self, "_scope_headers", {}), **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and hung up
            self.close_connection = True
        if not self.stub.keep_alive or self.stub.close_idle:
            self.close_connection = True
        if self.stub.close_idle:  # hung up now, as an idle timeout would before the next call
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            with self.stub._lock:
                self.stub.idle_closed += 1


def _fault_answer(fault: Fault) -> Answer:
    if fault.status == 429:
        after = fault.retry_after if fault.retry_after is not None else 1
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{after:g}"}
    if fault.status >= 500:
        return fault.status, {"ok": False, "error": "internal_error"}, {}
    if fault.status != 200:
        return fault.status, {"ok": False, "error": fault.error or "invalid_request"}, {}
    return _error(fault.error or "internal_error")


def _ok(**fields: Any) -> Answer:
    return 200, {"ok": True, **fields}, {}


def _error(code: str) -> Answer:
    return 200, {"ok": False, "error": code}, {}


def _json_field(value: Any) -> Any:
    """Form bodies carry blocks/metadata as JSON strings, JSON bodies as objects."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value else None
        except ValueError:
            return value
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def _ts_key(ts: Any) -> tuple[int, int]:
    seconds, _, micros = str(ts).partition(".")
    return int(seconds or 0), int((micros or "0").ljust(6, "0")[:6])


def _in_range(
    ts: tuple[int, int], oldest: tuple[int, int], latest: tuple[int, int], inc: bool
) -> bool:
    if inc:
        return oldest <= ts <= latest
    return oldest < ts < latest


def _top_level(message: dict[str, Any]) -> bool:
    return not message["thread_ts"] or message["thread_ts"] == message["ts"]


def _blocks_valid(blocks: Any) -> bool:
    """The Block Kit limits Slack enforces: <= 50 blocks, section text <= 3000, header <= 150."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return False
        text = (block.get("text") or {}).get("text", "")
        limit = 150 if block["type"] == "header" else 3000
        if len(text) > limit:
            return False
        if any(len(e.get("text", "")) > 3000 for e in block.get("elements", [])):
            return False
    return True


@pytest.fixture
def slack() -> Iterator[SlackStub]:
    """A running Slack stand-in; `slack.api_url` and `slack.token` configure the client."""
    with SlackStub() as stub:
        yield stub


def main(argv: list[str] | None = None) -> int:
    """Run the stub in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m tests.slackstub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", action="append", help="accepted token (repeatable)")
    parser.add_argument(
        "--scopes", help="comma-separated scopes granted to the token (default: all newsbot needs)"
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        help="create a channel: NAME, or NAME:private, NAME:outsider (bot not a member)",
    )
    parser.add_argument(
        "--no-auto-create", action="store_true", help="unknown channels are channel_not_found"
    )
    args = parser.parse_args(argv)

    def print_post(message: dict[str, Any]) -> None:
        print(json.dumps(message), flush=True)

    tokens = tuple(args.token or [DEFAULT_TOKEN])
    stub = SlackStub(args.host, args.port, tokens=tokens, on_post=print_post)
    if args.scopes is not None:
        stub.scopes = {scope.strip() for scope in args.scopes.split(",") if scope.strip()}
    for spec in args.channel:
        name, _, flags = spec.partition(":")
        stub.add_channel(name, private="private" in flags, member="outsider" not in flags)
    stub.auto_create = not args.no_auto_create
    stub.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"slackstub listening on {stub.api_url}", file=sys.stderr, flush=True)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
