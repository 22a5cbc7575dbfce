"""Delivery to Slack: with bot/slack/transport.py (its keep-alive HTTP), the only module that
imports slack_sdk.

Contract:
- `SlackSender.post()` sends one message with chat.postMessage and returns where it landed, or
  raises `DeliveryError(channel, code, retryable=..., retry_after=...)`. It never retries a post
  whose outcome is unknown (timeout, dropped connection, 5xx): Slack may have received it, and
  only the outbox, after `find_posted()` looked in the channel's history, may send it again.
- HTTP 429 is the one exception: Slack did not take the message, so the call waits out
  Retry-After and tries again, at most `max_rate_limit_retries` times
  (https://api.slack.com/docs/rate-limits#headers). Waits are counted in `rate_limit_waits`.
- Every post carries the alert id as message metadata
  (https://api.slack.com/metadata/using), so `find_posted()` can tell whether an alert is already
  in the channel: delivery is idempotent.
- `bot.errors.classify(code)` turns a DeliveryError code into a `DeliveryAction`: what the outbox
  should do (see its docstring).
- Calls go over kept-alive connections (bot/slack/transport.py), not a new one per call.
- The token is given to slack_sdk and to nothing else: it is never logged, never in an error.

- `channel_reactions()` / `thread_reactions()` read the reactions on the bot's alerts back
  (conversations.history / conversations.replies, which carry each message's `reactions`), for
  readers' feedback (bot/slack/feedback.py).

Slack scopes needed: chat:write (post), channels:history and groups:history
(conversations.history / conversations.replies, for find_posted and for readers' reactions),
channels:read and groups:read (conversations.list, to resolve '#name' to a channel id),
channels:join (conversations.join).

    DeliveryError.code values (see classify):
      retry    timeout, connection, http_5xx, ratelimited, internal_error, fatal_error, ...
      auth     invalid_auth, not_authed, account_inactive, token_revoked, missing_scope, http_4xx
      park     channel_not_found, not_in_channel, is_archived, restricted_action, ...
      shorten  msg_too_long, invalid_blocks, msg_blocks_too_long, ...
      drop     anything else: this alert cannot be sent as it is (recorded, reported, not retried)
"""

from __future__ import annotations

import http.client
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, cast
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import RateLimitErrorRetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from bot.alerts.format import render_plain
from bot.errors import DeliveryAction, DeliveryError, classify
from bot.feeds.http_headers import retry_after
from bot.models import Posted, ReactedMessage, Reaction, SlackMessage
from bot.slack.transport import KeepAliveWebClient

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
EVENT_TYPE = "newsbot_alert"
HISTORY_PAGE = 200  # conversations.history: Slack recommends <= 200 per page
MAX_HISTORY_PAGES = 25  # 5,000 messages back is far more than an outbox retry window

# What a slack_sdk call can raise: API errors, and urllib's transport errors (URLError and
# TimeoutError are OSErrors; RemoteDisconnected is an HTTPException).
_FAILURES = (SlackClientError, OSError, http.client.HTTPException)

_ADVICE = {
    "invalid_auth": "Slack rejected the token: set a valid SLACK_BOT_TOKEN (xoxb-...) and restart",
    "not_authed": "no token reached Slack: set SLACK_BOT_TOKEN and restart",
    "account_inactive": "the bot's user or workspace is deactivated: reinstall the Slack app",
    "token_revoked": "the token was revoked: reinstall the Slack app and set the new token",
    "token_expired": "the token expired: set a fresh SLACK_BOT_TOKEN and restart",
    "missing_scope": "the token lacks a scope: add it to the Slack app, reinstall, restart",
    "invalid_api_url": "SLACK_API_URL is not a Slack Web API URL: fix or unset it",
    "channel_not_found": "no such channel, or a private one the bot is not in: fix the name in "
    "topics.yaml or invite the bot; parked alerts are retried at the next start",
    "not_in_channel": "invite the bot to the channel (/invite @yourbot); parked alerts are "
    "retried at the next start",
    "is_archived": "the channel is archived: unarchive it or route the topic to another channel",
}


def advice(code: str) -> str:
    """What an operator should do about a DeliveryError code (shown by status and run --once)."""
    if code in _ADVICE:
        return _ADVICE[code]
    action = classify(code)
    if action == DeliveryAction.RETRY:
        return "Slack did not answer in time or failed: retried by itself with backoff"
    if action == DeliveryAction.AUTH:
        return "Slack refused the credentials or the endpoint: check SLACK_BOT_TOKEN and " + (
            "SLACK_API_URL (`newsbot slack-test` shows what works)"
        )
    if action == DeliveryAction.PARK:
        return "the channel refuses the bot: fix the channel; parked alerts retry at next start"
    return "Slack refused this alert as it is: see the code in Slack's API docs"


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """What auth.test says about the token; `error` None when it works."""

    error: str | None
    team: str = ""
    user: str = ""
    url: str = ""  # the workspace, e.g. https://example.slack.com/
    scopes: frozenset[str] | None = None  # from x-oauth-scopes; None when Slack did not say


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One configured channel as Slack sees it; `error` None when it was found."""

    channel: str
    error: str | None
    id: str = ""
    private: bool = False
    member: bool = False
    archived: bool = False


class RateLimitWaits(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, counting its waits, with an injectable sleep and no extra jitter."""

    def __init__(self, max_retry_count: int, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep
        self._lock = threading.Lock()
        self.waits = 0
        self.waited = 0.0

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        delay = retry_after(response.headers) if response is not None else None
        delay = 1.0 if delay is None else delay
        with self._lock:
            self.waits += 1
            self.waited += delay
        log.warning("slack rate limited, waiting Retry-After", extra={"status": 429, "wait": delay})
        self._sleep(delay)
        state.next_attempt_requested = True
        state.increment_current_attempt()


class SlackSender:
    """Posts alerts with slack_sdk's WebClient; see the module docstring for the contract."""

    def __init__(
        self,
        token: str,
        base_url: str = DEFAULT_API_URL,
        *,
        timeout: float = 10.0,
        max_rate_limit_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate_limit = RateLimitWaits(max_rate_limit_retries, sleep)
        # Only the 429 handler: slack_sdk's default ConnectionErrorRetryHandler would re-send a
        # post whose first copy Slack may already have, the duplicate this module exists to avoid.
        self._client = KeepAliveWebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=cast(int, timeout),  # urllib takes float seconds; slack_sdk annotates int
            retry_handlers=[self._rate_limit],
        )
        self._channel_ids: dict[str, str] = {}
        self._ids_lock = threading.Lock()
        self.workspace_url = ""  # learnt from auth.test, for message links

    def __repr__(self) -> str:  # never show the client (and so the token) in a repr
        return f"SlackSender(base_url={self._client.base_url!r})"

    @property
    def rate_limit_waits(self) -> int:
        """How many times a 429 Retry-After was waited out since start."""
        return self._rate_limit.waits

    def post(
        self, alert_id: str, channel: str, message: SlackMessage, *, thread_ts: str | None = None
    ) -> Posted:
        """chat.postMessage, unfurling off, the alert id in metadata. Raises DeliveryError."""
        extra = {"channel": channel, "alert_id": alert_id}
        try:
            response = self._client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,  # plain "@channel" in feed text must stay plain text
                parse="none",
                metadata={"event_type": EVENT_TYPE, "event_payload": {"alert_id": alert_id}},
            )
        except _FAILURES as exc:
            error = delivery_error(channel, exc)
            log.debug("slack post failed", extra={**extra, "status": error.code})
            raise error from None  # slack_sdk's exception text carries the whole response
        posted = Posted(str(response["channel"]), str(response["ts"]))
        self._remember(channel, posted.channel_id)
        log.debug("slack post ok", extra={**extra, "status": "ok", "ts": posted.ts})
        return posted

    def find_posted(
        self, channel: str, alert_id: str, *, oldest: float, thread_ts: str | None = None
    ) -> Posted | None:
        """The message carrying `alert_id` in its metadata, posted after `oldest`, if any.

        Top-level messages are read with conversations.history; thread replies are not listed
        there, so for a reply pass its parent's `thread_ts` to search conversations.replies too.
        """
        channel_id = self.resolve(channel)
        if channel_id is None:
            raise DeliveryError(channel, "channel_not_found", retryable=False)
        pages: Iterator[list[dict[str, Any]]] = self._history(channel, channel_id, oldest)
        if thread_ts is not None:
            pages = itertools.chain(pages, self._replies(channel, channel_id, thread_ts, oldest))
        for messages in pages:
            for found in messages:
                if _alert_id(found) == alert_id:
                    extra = {"channel": channel, "alert_id": alert_id, "status": "found"}
                    log.debug("alert already in slack history", extra=extra)
                    return Posted(channel_id, str(found["ts"]))
        return None

    def resolve(self, channel: str) -> str | None:
        """The channel id for '#name' (conversations.list, cached) or the id itself."""
        if _looks_like_id(channel):
            return channel
        name = channel.lstrip("#")
        with self._ids_lock:
            if name in self._channel_ids:
                return self._channel_ids[name]
        types = "public_channel,private_channel"
        for page in self._paginate(channel, "conversations_list", types=types, limit=1000):
            for listed in page.get("channels", []):
                self._remember(str(listed["name"]), str(listed["id"]))
        with self._ids_lock:
            return self._channel_ids.get(name)

    def _remember(self, channel: str, channel_id: str) -> None:
        if not _looks_like_id(channel):
            with self._ids_lock:
                self._channel_ids[channel.lstrip("#")] = channel_id

    def join(self, channel: str) -> bool:
        """conversations.join: True when the bot is now in the channel, False when not allowed."""
        try:
            channel_id = self.resolve(channel)
            if channel_id is None:
                return False
            self._client.conversations_join(channel=channel_id)
        except _FAILURES as exc:
            error = delivery_error(channel, exc)
            if error.retryable:
                raise error from None
            log.warning("slack join refused", extra={"channel": channel, "status": error.code})
            return False
        log.info("slack join ok", extra={"channel": channel, "status": "ok"})
        return True

    def check_auth(self) -> str | None:
        """auth.test: None when the token works, else the error code (see classify)."""
        info = self.auth_info()
        if info.error:
            log.error("slack auth check failed", extra={"status": info.error})
        return info.error

    def auth_info(self) -> AuthInfo:
        """auth.test, with the token's scopes from the x-oauth-scopes header Slack sends."""
        try:
            response = self._client.auth_test()
        except _FAILURES as exc:
            return AuthInfo(delivery_error("auth.test", exc).code)
        header = _header(response.headers, "x-oauth-scopes")
        scopes = (
            None if header is None else frozenset(filter(None, header.replace(" ", "").split(",")))
        )
        self.workspace_url = str(response.get("url") or "")
        return AuthInfo(
            None,
            str(response.get("team") or ""),
            str(response.get("user") or ""),
            self.workspace_url,
            scopes,
        )

    def channel_info(self, channel: str) -> ChannelInfo:
        """conversations.info for a configured channel ('#name' resolved first)."""
        try:
            channel_id = self.resolve(channel)
            if channel_id is None:
                return ChannelInfo(channel, "channel_not_found")
            data = self._client.conversations_info(channel=channel_id).get("channel") or {}
        except (*_FAILURES, DeliveryError) as exc:
            code = exc.code if isinstance(exc, DeliveryError) else delivery_error(channel, exc).code
            return ChannelInfo(channel, code)
        return ChannelInfo(
            channel,
            None,
            str(data.get("id") or channel_id),
            bool(data.get("is_private")),
            bool(data.get("is_member")),
            bool(data.get("is_archived")),
        )

    def post_text(self, channel: str, text: str) -> Posted:
        """A plain message (for `slack-test --post`); raises DeliveryError."""
        try:
            response = self._client.chat_postMessage(
                channel=channel, text=text, unfurl_links=False, unfurl_media=False
            )
        except _FAILURES as exc:
            raise delivery_error(channel, exc) from None
        return Posted(str(response["channel"]), str(response["ts"]))

    def close(self) -> None:
        """Close the kept-alive connections (bot/slack/transport.py)."""
        self._client.close()

    def _history(
        self, channel: str, channel_id: str, oldest: float
    ) -> Iterator[list[dict[str, Any]]]:
        for page in self._paginate(
            channel,
            "conversations_history",
            channel=channel_id,
            oldest=f"{oldest:.6f}",
            include_all_metadata=True,
            limit=HISTORY_PAGE,
        ):
            yield list(page.get("messages", []))

    def _replies(
        self, channel: str, channel_id: str, thread_ts: str, oldest: float
    ) -> Iterator[list[dict[str, Any]]]:
        for page in self._paginate(
            channel,
            "conversations_replies",
            channel=channel_id,
            ts=thread_ts,
            oldest=f"{oldest:.6f}",
            include_all_metadata=True,
            limit=HISTORY_PAGE,
        ):
            yield list(page.get("messages", []))

    def channel_reactions(
        self, channel_id: str, oldest: float, *, pages: int = 5
    ) -> list[ReactedMessage]:
        """The channel's top-level messages since `oldest`, with their reactions.

        One conversations.history call per page of 200, newest first, at most `pages` pages.
        Raises DeliveryError (missing_scope, channel_not_found, ratelimited after the retries...).
        """
        found = self._paginate(
            channel_id,
            "conversations_history",
            pages=pages,
            channel=channel_id,
            oldest=f"{oldest:.6f}",
            limit=HISTORY_PAGE,
        )
        return [_reacted(channel_id, m) for page in found for m in page.get("messages", [])]

    def thread_reactions(
        self, channel_id: str, thread_ts: str, *, pages: int = 5
    ) -> list[ReactedMessage]:
        """Every message of one thread (its parent included), with their reactions."""
        found = self._paginate(
            channel_id,
            "conversations_replies",
            pages=pages,
            channel=channel_id,
            ts=thread_ts,
            limit=HISTORY_PAGE,
        )
        return [_reacted(channel_id, m) for page in found for m in page.get("messages", [])]

    def _paginate(
        self, label: str, method: str, *, pages: int = MAX_HISTORY_PAGES, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Follow response_metadata.next_cursor; a Slack error becomes a DeliveryError."""
        call = getattr(self._client, method)
        cursor: str | None = None
        for _ in range(pages):
            try:
                response = call(cursor=cursor, **params)
            except _FAILURES as exc:
                raise delivery_error(label, exc) from None
            data = cast(dict[str, Any], response.data)
            yield data
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return


class TerminalSender:
    """Stands in for SlackSender without a token: prints each message to a stream (stdout)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._count = 0
        self._lock = threading.Lock()
        self.workspace_url = ""  # nothing to link to

    def post(
        self, alert_id: str, channel: str, message: SlackMessage, *, thread_ts: str | None = None
    ) -> Posted:
        stream = self._stream or sys.stdout
        with self._lock:
            self._count += 1
            ts = f"{time.time():.6f}"
            prefix = f"-> {channel}" + (" (thread reply)" if thread_ts else "")
            print(f"{prefix}\n{render_plain(message)}\n", file=stream, flush=True)
        return Posted(channel, ts)

    def find_posted(
        self, channel: str, alert_id: str, *, oldest: float, thread_ts: str | None = None
    ) -> Posted | None:
        return None

    def join(self, channel: str) -> bool:
        return True

    def check_auth(self) -> str | None:
        return None

    def close(self) -> None:
        pass


def delivery_error(channel: str, exc: BaseException) -> DeliveryError:
    """Any failure of a slack_sdk call as a DeliveryError with a stable code (no token, ever)."""
    if isinstance(exc, SlackApiError):
        return _api_error(channel, exc)
    code = _transport_code(exc)
    return DeliveryError(channel, code, retryable=classify(code) == DeliveryAction.RETRY)


def _api_error(channel: str, exc: SlackApiError) -> DeliveryError:
    status = int(exc.response.status_code)
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    if status == 429:
        after = retry_after(dict(exc.response.headers))
        return DeliveryError(channel, "ratelimited", retryable=True, retry_after=after)
    code = str(data.get("error") or "") if status in (200, 400) else ""
    code = code or f"http_{status}"
    needed = str(data.get("needed") or "") or None  # missing_scope names the scope it lacks
    return DeliveryError(
        channel, code, retryable=classify(code) == DeliveryAction.RETRY, needed=needed
    )


def _transport_code(exc: BaseException) -> str:
    if isinstance(exc, URLError) and isinstance(exc.reason, BaseException):
        return _transport_code(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError | http.client.HTTPException | URLError):
        return "connection"
    if isinstance(exc, SlackClientError):  # e.g. "Invalid URL detected": SLACK_API_URL is wrong
        return "invalid_api_url"
    return "connection"


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _reacted(channel_id: str, message: dict[str, Any]) -> ReactedMessage:
    """A history message as our own type: its ts and reactions (name, users, count)."""
    reactions = []
    for raw in message.get("reactions") or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        users = tuple(str(user) for user in raw.get("users") or ())
        count = raw.get("count")
        reactions.append(
            Reaction(str(raw["name"]), users, int(count) if isinstance(count, int) else len(users))
        )
    return ReactedMessage(channel_id, str(message.get("ts", "")), tuple(reactions))


def _alert_id(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != EVENT_TYPE:
        return None
    payload = metadata.get("event_payload") or {}
    value = payload.get("alert_id")
    return str(value) if value is not None else None


def _looks_like_id(channel: str) -> bool:
    return len(channel) >= 9 and channel[0] in "CGD" and channel.isalnum() and channel.isupper()
