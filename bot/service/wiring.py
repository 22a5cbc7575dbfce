"""Build the service's parts from settings and config: the one place that picks implementations.

Without a Slack token (or with --dry-run) alerts go to the terminal; --dry-run also works on a
private in-memory copy of the state, so it shows what would be posted without changing anything.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from bot.alerts.outbox import Outbox, Sender
from bot.alerts.pacing import ChannelPacer
from bot.config import Config
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.guard import AddressPolicy
from bot.matching.match import Matcher
from bot.models import FeedSpec
from bot.service.memory import keep_large_blocks_out_of_heaps
from bot.service.metrics import Metrics
from bot.service.pipeline import Runtime
from bot.service.runner import Service
from bot.settings import Settings, state_target
from bot.slack.deliver import SlackSender, TerminalSender
from bot.state import open_store
from bot.state.interface import Store
from bot.state.leases import coordinator_for

if TYPE_CHECKING:
    from bot.slack.feedback import FeedbackSync


def build_service(
    settings: Settings,
    config: Config,
    *,
    dry_run: bool = False,
    feeds_override: list[FeedSpec] | None = None,
    role: str = "",
) -> Service:
    """`role` ("service", "run --once", "digest"): this process delivers from the state, so it
    holds the state's instance (bot/state/instance.py); a dry run works on a private copy."""
    keep_large_blocks_out_of_heaps()  # before the poll threads' first blocks (see the module)
    store = open_store(state_target(settings))
    if dry_run:
        disk, store = store, store.copy_to_memory()
        disk.close()
    elif role:
        try:
            store.hold_instance(role)
        except BaseException:
            store.close()
            raise
    sender: Sender
    pacer = ChannelPacer()  # Slack: about one message per second per channel
    note = delivery_note(settings, dry_run)
    if settings.slack_token and not dry_run:
        sender = SlackSender(settings.slack_token, settings.slack_api_url)
    else:
        sender = TerminalSender(sys.stdout)
        pacer = ChannelPacer(rate=1000.0, burst=1000)  # a terminal has no rate limit
    defaults = config.defaults
    fetcher = Fetcher(
        FetchLimits(
            connect_timeout=defaults.connect_timeout,
            read_timeout=defaults.read_timeout,
            total_timeout=defaults.fetch_deadline,
            max_bytes=defaults.max_feed_bytes,
        ),
        policy=AddressPolicy(allow_private=defaults.allow_private_networks),
    )
    metrics = Metrics()
    metrics.watch_store(store.lock_waits)
    runtime = Runtime(config, Matcher(config.topics), store, fetcher, metrics)
    feedback = _feedback_sync(store, sender) if isinstance(sender, SlackSender) else None
    coordinator = coordinator_for(store, settings.lease_seconds)
    return Service(
        settings,
        runtime,
        Outbox(
            store, sender, metrics, pacer=pacer, dry_run=dry_run, owns=coordinator.claim_channel
        ),
        feeds_override=feeds_override,
        delivery_note=note,
        feedback=feedback,
        coordinator=coordinator,
    )


def delivery_note(settings: Settings, dry_run: bool) -> str:
    """How alerts will go out, said once at start so nobody waits for posts that cannot come."""
    if dry_run:
        return "dry run: alerts are printed here; nothing is posted to Slack or saved"
    if not settings.slack_token:
        return (
            "no SLACK_BOT_TOKEN: alerts are printed here "
            "(set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE to post to Slack)"
        )
    return f"posting alerts to Slack at {settings.slack_api_url}"


def build_feedback_sync(settings: Settings, store: Store) -> FeedbackSync | None:
    """For `newsbot feedback sync`: reads Slack with the bot token; None without a token."""
    if not settings.slack_token:
        return None
    return _feedback_sync(store, SlackSender(settings.slack_token, settings.slack_api_url))


def _feedback_sync(store: Store, sender: SlackSender) -> FeedbackSync:
    from bot.slack.feedback import FeedbackSync  # only with a Slack token

    return FeedbackSync(store, sender)
