"""Every error newsbot raises on purpose. Each names the thing at fault and, where it can, the fix.

NewsbotError
 +-- ConfigError          a config file, key path and line: refuse to start (exit 2)
 +-- QuerySyntaxError     a topic query that does not parse, with the character position
 +-- FetchError           one feed could not be fetched; `kind` says why (timeout, http, ...)
 |    +-- FeedGone        HTTP 410: the feed is disabled until an admin re-enables it
 +-- ParseError           one feed's body is not a feed we can read
 +-- StoreError           the state database cannot be opened or written
 |    +-- StoreUnreachable  the database server did not answer: this work is skipped, not fatal
 +-- DeliveryError        Slack refused or failed a post; `code` is Slack's error string
"""

from __future__ import annotations

from enum import StrEnum

from bot.feeds.urls import redact_url

MAX_DETAIL = 160  # characters of a fetch or parse error's detail: enough to say what went wrong
MAX_MESSAGE = 480  # characters of any error message kept in the state or logged for a feed
EXCERPT = 32  # characters of server-sent text (a body, a header, a reason phrase) quoted in one


def excerpt(data: bytes | str, limit: int = EXCERPT) -> str:
    """A short, escaped excerpt of untrusted server-sent text, for an error message: at most
    `limit` characters of it, quoted, control characters and quotes escaped, "..." if cut."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def clip(detail: str, limit: int = MAX_MESSAGE) -> str:
    """`detail` fit for a log line and the state: non-printable characters escaped, cut at
    `limit` characters. (Library messages may quote what a server sent.)"""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in detail)
    return shown if len(shown) <= limit else shown[:limit] + "..."


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """The configuration is invalid. Renders as `file:line key.path: problem`."""

    def __init__(
        self, message: str, *, file: str = "", line: int | None = None, path: str = ""
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        prefix = " ".join(part for part in (where, self.path) if part)
        return f"{prefix}: {self.message}" if prefix else self.message


class ConfigErrors(ConfigError):
    """Several configuration problems found in one pass, so the admin can fix them all at once."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(error.render() for error in errors))

    def render(self) -> str:
        return "\n".join(error.render() for error in getattr(self, "errors", []))


class QuerySyntaxError(NewsbotError):
    """A topic query does not parse. `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int, query: str = "") -> None:
        self.message = message
        self.position = position
        self.query = query
        super().__init__(f"{message} at position {position}")


class FetchError(NewsbotError):
    """A feed could not be fetched.

    `kind` is one of: scheme, dns, connect, timeout, http, too_large, redirects, protocol,
    private (a redirect into a private network), cancelled (the service is stopping).
    `retry_after` carries the server's Retry-After (seconds) on 429/503. The message shows the
    URL redacted (credentials never in an error message) and the detail clipped.
    """

    def __init__(
        self,
        feed_url: str,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.feed_url = feed_url
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"fetch {redact_url(feed_url)}: {clip(message, MAX_DETAIL)}")


class FeedGone(FetchError):
    """HTTP 410 Gone: the publisher removed the feed; polling it again would be rude and useless."""


class ParseError(NewsbotError):
    """A feed body is not a feed (HTML login page, broken XML, empty body, ...)."""

    def __init__(self, feed_url: str, message: str) -> None:
        self.feed_url = feed_url
        super().__init__(f"parse {redact_url(feed_url)}: {clip(message, MAX_DETAIL)}")


class StoreError(NewsbotError):
    """The state database cannot be opened, read or written. Never silently reset."""


class StoreUnreachable(StoreError):
    """The database server did not answer (down, restarting, network). The call's work was not
    done; the next call connects again. A running service skips the work and reports not ready
    instead of stopping."""


class DeliveryError(NewsbotError):
    """Slack did not accept a message.

    `code` is Slack's error string (e.g. `channel_not_found`) or a transport failure
    (`timeout`, `connection`, `http_500`). `retryable` says whether trying later may work.
    """

    def __init__(
        self,
        channel: str,
        code: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        needed: str | None = None,
    ) -> None:
        self.channel = channel
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.needed = needed  # for missing_scope: the scope Slack says is needed
        super().__init__(f"deliver to {channel}: {code}")


class DeliveryAction(StrEnum):
    """What the outbox does about a DeliveryError (see `classify`)."""

    RETRY = "retry"  # transient: keep the alert queued, back off, look in history, send again
    AUTH = "auth"  # the token or endpoint is wrong: stop all posting, keep the queue, report it
    PARK = "park"  # this channel cannot take posts: park its alerts with the reason, others go on
    SHORTEN = "shorten"  # this message was refused as too big/invalid: send the short form
    DROP = "drop"  # this alert cannot be sent as it is: mark it failed with the code, no retry


_RETRY_CODES = frozenset(
    {
        "timeout",
        "connection",
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
_AUTH_CODES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "ekm_access_denied",
        "org_login_required",
        "team_access_not_granted",
        "invalid_api_url",
    }
)
_PARK_CODES = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cannot_reply_to_message",
    }
)
_SHORTEN_CODES = frozenset(
    {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long", "no_text"}
)


def classify(code: str) -> DeliveryAction:
    """What the outbox does about a DeliveryError code: the one rule, for deliver, the outbox,
    the feedback sync and the service's checks.

    retry    Slack may not have the message (timeout, connection, 5xx, 429): keep it queued and
             retry with backoff; for timeout/connection/5xx call find_posted() first.
    auth     credentials or the API endpoint are wrong (invalid_auth, not_authed, account_inactive,
             a 4xx from the endpoint): stop all posting, keep the whole queue, log once, report it.
    park     the channel refuses the bot (channel_not_found, not_in_channel, is_archived): park
             that channel's alerts with the reason (try join() first for not_in_channel); other
             channels go on.
    shorten  the message itself was refused (msg_too_long, invalid_blocks): send render_fallback.
    drop     anything else (an unknown or argument error): resending the same alert cannot help;
             mark it failed with the code, where the health report shows it. Never silent.
    """
    if code in _RETRY_CODES or (code.startswith("http_5") and len(code) == 8):
        return DeliveryAction.RETRY
    if code in _AUTH_CODES or code.startswith("http_4"):
        return DeliveryAction.AUTH
    if code in _PARK_CODES:
        return DeliveryAction.PARK
    if code in _SHORTEN_CODES:
        return DeliveryAction.SHORTEN
    return DeliveryAction.DROP
