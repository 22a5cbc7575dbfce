"""`newsbot slack-test`: does the Slack set-up work? A table of what works and what to fix.

It checks, with the real token and the real Web API (SLACK_API_URL):
- the token (auth.test), and the workspace it belongs to;
- each scope a feature needs, read from the x-oauth-scopes header Slack sends with auth.test;
- each channel the topics name (conversations.list / conversations.info): it exists, it is
  public or private, the bot is a member (or may join it), it is not archived;
- with `--post`, one test message per channel (chat.postMessage).

`rows(...)` is pure (Slack's answers in, table rows out); `cmd_slack_test` does the I/O.
Exit code: 0 when everything needed works, 1 when something must be fixed, 2 without a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from bot.config import Config
from bot.errors import DeliveryError
from bot.settings import Settings, state_exists, state_target
from bot.slack.deliver import AuthInfo, ChannelInfo, SlackSender, advice

OK, MISSING, FAIL, OPTIONAL, UNKNOWN = "ok", "MISSING", "FAIL", "optional", "unknown"
SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    purpose: str
    needed: str  # "always", "private" (only with a private channel), "optional"


SCOPES = (
    Scope("chat:write", "post alerts and thread replies", "always"),
    Scope(
        "channels:history", "exactly-once: find an unanswered post in a public channel", "always"
    ),
    Scope(
        "groups:history", "exactly-once: find an unanswered post in a private channel", "private"
    ),
    Scope("channels:read", "turn #names of public channels into ids", "always"),
    Scope("groups:read", "turn #names of private channels into ids", "private"),
    Scope("channels:join", "join a public channel the bot was not invited to", "optional"),
    Scope("reactions:read", "read the team's reactions to alerts (feedback)", "optional"),
)
SCOPE_FIX = "add it under OAuth & Permissions in the Slack app, reinstall, set the new token"


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    result: str
    detail: str

    @property
    def bad(self) -> bool:
        return self.result in (MISSING, FAIL)


def auth_row(auth: AuthInfo) -> Row:
    if auth.error:
        return Row("token (auth.test)", FAIL, f"{auth.error}: {advice(auth.error)}")
    return Row("token (auth.test)", OK, f"bot user {auth.user} in {auth.team} ({auth.url})")


def scope_rows(scopes: frozenset[str] | None, any_private: bool) -> list[Row]:
    rows = []
    for scope in SCOPES:
        label = f"scope {scope.name}"
        if scopes is None:
            rows.append(Row(label, UNKNOWN, f"Slack sent no x-oauth-scopes; {scope.purpose}"))
        elif scope.name in scopes:
            rows.append(Row(label, OK, scope.purpose))
        elif scope.needed == "optional" or (scope.needed == "private" and not any_private):
            why = "no private channel configured" if scope.needed == "private" else "optional"
            rows.append(Row(label, OPTIONAL, f"not granted ({why}): {scope.purpose}"))
        else:
            rows.append(Row(label, MISSING, f"{scope.purpose}: {SCOPE_FIX}"))
    return rows


def channel_row(
    info: ChannelInfo, topics: Sequence[str], scopes: frozenset[str] | None = None
) -> Row:
    label = f"channel {info.channel}"
    used_by = f" (topic {', '.join(topics)})" if topics else ""
    unreadable = [
        s for s in ("channels:read", "groups:read") if scopes is not None and s not in scopes
    ]
    if info.error == "missing_scope" or (info.error == "channel_not_found" and unreadable):
        return Row(
            label,
            FAIL,
            f"cannot look it up{used_by}: the token lacks {' and '.join(unreadable) or 'a scope'}"
            f", so Slack hides such channels from it: {SCOPE_FIX}",
        )
    if info.error:
        return Row(label, FAIL, f"{info.error}{used_by}: {advice(info.error)}")
    kind = "private" if info.private else "public"
    if info.archived:
        return Row(label, FAIL, f"{kind} ({info.id}) is archived{used_by}: {advice('is_archived')}")
    if info.member:
        return Row(label, OK, f"{kind} ({info.id}), the bot is a member")
    if not info.private and (scopes is None or "channels:join" in scopes):
        return Row(label, OK, f"{kind} ({info.id}), the bot joins it at its first post")
    return Row(
        label, FAIL, f"{kind} ({info.id}), the bot is not a member: {advice('not_in_channel')}"
    )


def channels_of(config: Config) -> dict[str, list[str]]:
    """Each configured channel and the topics that post to it, in config order."""
    channels: dict[str, list[str]] = {}
    for topic in config.topics:
        for channel in topic.channels:
            channels.setdefault(channel, []).append(topic.name)
    return channels


def cmd_slack_test(settings: Settings, config: Config, out: TextIO, *, post: bool = False) -> int:
    if not settings.slack_token:
        print(
            "newsbot: no SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE): nothing to test; "
            "without a token alerts are printed to the terminal",
            file=out,
        )
        return 2
    sender = SlackSender(settings.slack_token, settings.slack_api_url)
    print(f"Slack Web API at {settings.slack_api_url}\n", file=out)
    auth = sender.auth_info()
    rows = [auth_row(auth)]
    if not auth.error:
        _remember_workspace(settings, auth.url)
        channels = channels_of(config)
        infos = [sender.channel_info(channel) for channel in channels]
        rows += scope_rows(auth.scopes, any(info.private for info in infos))
        rows += [channel_row(info, channels[info.channel], auth.scopes) for info in infos]
        if post:
            rows += [_post(sender, row) for row in rows if row.check.startswith("channel ")]
    _print_table(rows, out)
    problems = sum(row.bad for row in rows)
    print(
        f"\n{problems} problem(s) to fix." if problems else "\nSlack set-up works.",
        file=out,
    )
    return 1 if problems else 0


def _post(sender: SlackSender, row: Row) -> Row:
    channel = row.check.removeprefix("channel ")
    label = f"post to {channel}"
    if row.bad:
        return Row(label, SKIPPED, "not tried: fix the channel first")
    try:
        posted = sender.post_text(channel, "newsbot slack-test: alerts for this channel work.")
    except DeliveryError as exc:
        return Row(label, FAIL, f"{exc.code}: {advice(exc.code)}")
    return Row(label, OK, f"test message posted (ts {posted.ts})")


def _remember_workspace(settings: Settings, url: str) -> None:
    """Keep the workspace URL in the state database, so `newsbot alerts` can link messages."""
    if not url or not state_exists(settings):
        return
    from bot.state import open_store

    store = open_store(state_target(settings))
    try:
        store.set_meta("slack_workspace_url", url)
    finally:
        store.close()


def _print_table(rows: Sequence[Row], out: TextIO) -> None:
    width = max(len(row.check) for row in rows)
    print(f"{'CHECK'.ljust(width)}  {'RESULT'.ljust(8)}  DETAIL", file=out)
    for row in rows:
        print(f"{row.check.ljust(width)}  {row.result.ljust(8)}  {row.detail}", file=out)
