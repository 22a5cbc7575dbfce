"""The `newsbot` command line: run, check, status, alerts, digest, slack-test, enable, match,
explain, eval, feedback, healthcheck.

Exit codes: 0 success; 1 a runtime failure (state database, unexpected error; `slack-test`:
something to fix); 2 an invalid configuration or invalid arguments (the message says file, line,
key path and what is wrong); 3 `run --once` left alerts undelivered (waiting, parked, refused),
or `digest` left digest messages undelivered.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.cli import feedback as cli_feedback
from bot.errors import ConfigError, NewsbotError
from bot.feeds.urls import redact_url
from bot.logs import setup_logging
from bot.settings import Settings, from_env, state_exists, state_target

if TYPE_CHECKING:  # imported lazily at run time, by the commands that need them (`--help` and
    # argument errors import neither pydantic nor the query language)
    from bot.config import Config
    from bot.state.interface import Store

log = logging.getLogger("newsbot")


ENVIRONMENT = """\
environment:
  SLACK_BOT_TOKEN        bot token (xoxb-...); without it alerts are printed to the terminal
  SLACK_BOT_TOKEN_FILE   read the token from this file instead (container secrets)
  SLACK_API_URL          Slack Web API base URL (default https://slack.com/api/)
  NEWSBOT_CONFIG         configuration file (default config/newsbot.yaml; --config wins)
  NEWSBOT_DB             SQLite state file (default newsbot.db), or a postgresql:// URL
  NEWSBOT_LOG_FORMAT     text (default) or json
  NEWSBOT_LOG_LEVEL      DEBUG, INFO (default), WARNING, ERROR
  NEWSBOT_HTTP_HOST      health/metrics address (default 127.0.0.1)
  NEWSBOT_HTTP_PORT      health/metrics port (default 8080; 0 turns it off)
  NEWSBOT_LEASE_SECONDS  PostgreSQL replicas: a dead replica's work moves after (default 30)

exit codes: 0 ok; 1 runtime failure; 2 invalid configuration or arguments;
            3 run --once left alerts undelivered (see `newsbot status`), or digest
              left digest messages undelivered
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="News-monitoring alert bot: polls feeds, matches topics, posts Slack alerts.",
        epilog=ENVIRONMENT + "\n`newsbot COMMAND --help` describes a command, with an example.",
        formatter_class=_OneLineEach,
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, text: str, example: str = "", *, config: bool = True
    ) -> argparse.ArgumentParser:
        cmd = sub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=f"example:\n  {example}" if example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if config:
            cmd.add_argument(
                "--config", help="config file (default: $NEWSBOT_CONFIG or config/newsbot.yaml)"
            )
        return cmd

    run = command(
        "run",
        "poll the feeds on their schedule and post alerts (until SIGTERM)",
        "newsbot run --once --dry-run    # one poll of every feed, print what would be posted\n"
        "exit codes of --once: 0 every alert delivered, 3 alerts left undelivered",
    )
    run.add_argument(
        "--feeds",
        type=Path,
        help="poll the feeds of this OPML or URL-list file instead of the configured ones",
    )
    run.add_argument(
        "--once",
        action="store_true",
        help="poll every feed once, deliver, exit (0: all delivered, 3: alerts left undelivered)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print alerts to the terminal; change no state and post nothing",
    )
    command(
        "check",
        "validate the configuration (file:line key.path: problem, and the fix)",
        "newsbot check --config config/newsbot.yaml",
    )
    status = command(
        "status",
        "feed health, undelivered alerts and why, the last alerts",
        "newsbot status --wide    # with feed URLs and full errors",
    )
    status.add_argument("--wide", action="store_true", help="show feed URLs and full errors")
    alerts = command(
        "alerts",
        "recent alerts: headline, channel, status, Slack link",
        "newsbot alerts --since 7d --topic facial-recognition-policy --json",
    )
    alerts.add_argument(
        "--since", default="24h", type=_duration, help="how far back: 90m, 24h, 7d (default 24h)"
    )
    alerts.add_argument("--topic", help="only this topic's alerts")
    alerts.add_argument("--json", action="store_true", help="one JSON object per line")
    slack_test = command(
        "slack-test",
        "check the Slack token, each configured channel and each needed scope",
        "SLACK_BOT_TOKEN=xoxb-... newsbot slack-test --post",
    )
    slack_test.add_argument(
        "--post", action="store_true", help="also post one test message to each channel"
    )
    enable = command(
        "enable",
        "poll a feed again that was disabled (HTTP 410 Gone)",
        "newsbot enable https://www.eff.org/rss/updates.xml",
    )
    enable.add_argument("url", help="the feed's URL (or its name in feeds.yaml)")
    match = command(
        "match",
        "match JSON-lines stories against the topics",
        'echo \'{"title": "City bans facial recognition"}\' | newsbot match',
    )
    match.add_argument("file", nargs="?", default="-", help="JSON lines (default: stdin)")
    explain = command(
        "explain",
        "explain how a story matches (or nearly matches) each topic: "
        "the same verdict `match` gives",
        'newsbot explain "Council bans police facial recognition" --summary "The vote was 7-2."',
    )
    explain.add_argument(
        "text",
        help='the headline, or - to read a JSON story ({"title": ..., "summary": ...}) from stdin',
    )
    explain.add_argument("--summary", default="", help="the story's summary (lede)")
    evaluate = command(
        "eval",
        "precision/recall (or clustering) on a labelled JSON-lines file",
        "newsbot eval labelled.jsonl --json",
    )
    evaluate.add_argument("file")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument("--clusters", action="store_true", help="evaluate event clustering")
    evaluate.add_argument(
        "--compare-all",
        action="store_true",
        help="with --clusters: score each story against every earlier one, not only those "
        "sharing a name or a near-copy headline (as `run` does); the decisions are the same",
    )
    evaluate.add_argument(
        "--rules-only",
        action="store_true",
        help="leave out the topics' meaning stage (to measure what it adds)",
    )
    digest = command(
        "digest",
        "post every pending digest now (topics with `delivery: digest`)",
        "newsbot digest --topic facial-recognition-policy --dry-run",
    )
    digest.add_argument("--topic", help="only this topic's digest")
    digest.add_argument(
        "--dry-run", action="store_true", help="print the digests; change no state, post nothing"
    )
    cli_feedback.add_parser(sub, "config file (default: $NEWSBOT_CONFIG or config/newsbot.yaml)")
    health = command(
        "healthcheck",
        "exit 0 when the running service answers /healthz",
        "newsbot healthcheck --url http://127.0.0.1:8080/readyz",
        config=False,
    )
    health.add_argument("--url", help="default: http://127.0.0.1:$NEWSBOT_HTTP_PORT/healthz")
    return parser


class _OneLineEach(argparse.RawDescriptionHelpFormatter):
    """Each command and its help on one line: argparse sizes the name column without the
    commands' own indent, so `healthcheck` would push its help onto the next line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=24, width=110)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            self._action_max_length += 4  # the commands' indent under COMMAND


def _duration(text: str) -> float:
    """'90m', '24h', '7d' or plain seconds, in seconds (for --since)."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    value = text.strip().lower()
    unit = units.get(value[-1:])
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (write e.g. 90m, 24h, 7d)"
        ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = from_env(config=getattr(args, "config", None))
        setup_logging(settings.log_format, settings.log_level, secrets=[settings.slack_token or ""])
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"newsbot: invalid configuration:\n{exc.render()}", file=sys.stderr)
        return 2
    except NewsbotError as exc:  # StoreError included
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsbot run --dry-run | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "healthcheck":
        from bot.service.health import probe_main

        return probe_main(args.url or f"http://127.0.0.1:{settings.http_port or 8080}/healthz")
    if args.command == "enable":
        return _enable(settings, args.url, sys.stdout)
    if args.command == "status":
        return _status(settings, sys.stdout, wide=args.wide)
    if args.command == "alerts":
        return _alerts(settings, sys.stdout, since=args.since, topic=args.topic, as_json=args.json)
    if args.command == "feedback":
        return cli_feedback.run(args, settings)
    from bot.config import load_config

    config = load_config(settings.config_path)
    if args.command == "slack-test":
        from bot.slack.slacktest import cmd_slack_test

        return cmd_slack_test(settings, config, sys.stdout, post=args.post)
    if args.command == "check":
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(
            f"{settings.config_path}: OK ({len(config.topics)} topics, {len(config.feeds)} feeds)"
        )
        return 0
    if args.command == "digest":
        return _digest(args, settings, config)
    if args.command == "run":
        return _run(args, settings, config)
    from bot.matching import evaluate

    if args.command == "match":
        if args.file == "-":
            return evaluate.cmd_match(config.topics, sys.stdin, sys.stdout)
        with open(args.file, encoding="utf-8") as infile:
            return evaluate.cmd_match(config.topics, infile, sys.stdout)
    if args.command == "explain":
        title, summary = args.text, args.summary
        if args.text == "-":
            try:
                story = evaluate.read_story(sys.stdin)
            except evaluate.ExplainInputError as exc:
                print(f"newsbot explain: {exc}", file=sys.stderr)
                return 2
            title, summary = story["title"], story.get("summary") or ""
        code = evaluate.cmd_explain(config.topics, title, summary, sys.stdout)
        _explain_clusters(settings, config, title, summary, sys.stdout)
        return code
    if args.clusters:
        from bot.matching.evaluate_clusters import cmd_eval_clusters

        # The labelled file has no topic: the first topic's cluster settings apply.
        first_topic_cluster = config.topics[0].cluster if config.topics else None
        return cmd_eval_clusters(
            args.file,
            sys.stdout,
            as_json=args.json,
            settings=first_topic_cluster,
            blocking=not args.compare_all,
        )
    topics = config.topics
    if args.rules_only:
        topics = tuple(replace(topic, meaning=None) for topic in topics)
    return evaluate.cmd_eval(topics, args.file, sys.stdout, as_json=args.json)


def _digest(args: argparse.Namespace, settings: Settings, config: Config) -> int:
    from bot.alerts.digest import digest_topics, leftover_topics
    from bot.service.wiring import build_service
    from bot.state.instance import DIGEST

    topics = digest_topics(config.topics)
    if args.topic:
        named = [topic for topic in config.topics if topic.name == args.topic]
        if not named or named[0] not in topics:
            known = ", ".join(topic.name for topic in topics) or "none"
            why = "posts in real time" if named else "is not a configured topic"
            print(
                f"newsbot: --topic {args.topic!r} {why}; topics in digest mode: {known}",
                file=sys.stderr,
            )
            return 2
        topics = named
    service = build_service(settings, config, dry_run=args.dry_run, role=DIGEST)
    try:
        if not args.topic:  # and the stories a topic back in realtime mode still holds
            topics += leftover_topics(config.topics, service.rt.store.held_counts())
        if not topics:
            print("newsbot: no topic has `delivery: digest`: no digest to send", file=sys.stderr)
            return 0
        outcomes, delivered = service.send_digests(topics)
        waiting = service.rt.store.outbox_depth()
    finally:
        service.close()
    for topic in topics:
        mine = [outcome for outcome in outcomes if outcome.topic == topic.name]
        for outcome in mine:
            print(
                f"newsbot: digest {topic.name} -> {outcome.channel}: "
                f"{_count(outcome.stories, 'story', 'stories')} in "
                f"{_count(outcome.messages, 'message', 'messages')}",
                file=sys.stderr,
            )
        if not mine:
            print(
                f"newsbot: digest {topic.name}: no story waiting, nothing posted", file=sys.stderr
            )
    print(
        f"newsbot: {_count(len(outcomes), 'digest', 'digests')} queued, "
        f"{_count(delivered, 'message', 'messages')} delivered, {waiting} waiting in the outbox",
        file=sys.stderr,
    )
    if waiting:  # like `run --once`: say so, and exit 3
        print(
            "newsbot: exit 3: messages left undelivered (`newsbot status` shows why; they go "
            "out on a later run or `newsbot digest`)",
            file=sys.stderr,
        )
        return 3
    return 0


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _run(args: argparse.Namespace, settings: Settings, config: Config) -> int:
    from bot.config import load_feed_list
    from bot.service.wiring import build_service
    from bot.state.instance import ONCE, SERVICE

    if args.feeds:
        config = config.with_feeds(load_feed_list(args.feeds, config.defaults))
    service = build_service(
        settings,
        config,
        dry_run=args.dry_run,
        feeds_override=list(config.feeds) if args.feeds else None,
        role=ONCE if args.once else SERVICE,
    )
    try:
        if not args.once:
            return service.run_forever()
        summary = service.run_once()
        if args.dry_run:
            _print_skipped(summary.skipped, sys.stdout)
        print(f"newsbot: {summary.line()}", file=sys.stderr)
        for problem in summary.problems:
            print(f"newsbot: {problem}", file=sys.stderr)
        if summary.exit_code:
            print(
                f"newsbot: exit {summary.exit_code}: alerts left undelivered "
                "(`newsbot status` shows why; they go out on a later run)",
                file=sys.stderr,
            )
        return summary.exit_code
    finally:
        service.close()


def _print_skipped(skipped: Sequence[tuple[str, str, str]], out: TextIO) -> None:
    """--dry-run: what the poll would only mark seen, and why (the alerts were printed above)."""
    from bot.alerts.format import clean_text

    for feed_url, title, why in skipped:
        print(f"skip: {clean_text(title)[:200] or '(untitled)'}\n    {feed_url}: {why}", file=out)


def _explain_clusters(
    settings: Settings, config: Config, text: str, summary: str, out: TextIO
) -> None:
    """For a matching headline: would it fold into an alert already posted (state database)?"""
    from bot.alerts.plan import cluster_decision
    from bot.matching.match import Matcher
    from bot.models import Story
    from bot.service.pipeline import stored_reports
    from bot.state import open_store

    matches = Matcher(config.topics).match(text, summary)
    if not matches:
        return
    if not state_exists(settings):
        print(
            f"\nclustering: no state at {settings.db_path}, so this would be a new alert", file=out
        )
        return
    store = open_store(state_target(settings))
    story = Story("explain", "", text, summary, "explain", datetime.now(UTC))
    topics = {topic.name: topic for topic in config.topics}
    try:
        for match in matches:
            topic = topics[match.topic]
            for channel in topic.channels:
                decision = cluster_decision(
                    story,
                    topic,
                    channel,
                    stored_reports(store),
                    [],
                    time.time(),
                )
                verdict = (
                    f"folds into alert {decision.parent_id}"
                    if decision.parent_id
                    else "would be a new alert"
                )
                print(
                    f"\nclustering in {channel}: {verdict} (similarity "
                    f"{decision.similarity:.0f}): {decision.reason}",
                    file=out,
                )
    finally:
        store.close()


def _status(settings: Settings, out: TextIO, *, wide: bool = False) -> int:
    from bot.state import open_store

    if not state_exists(settings):
        print(
            f"no state yet at {settings.db_path} (newsbot has not run with this NEWSBOT_DB)",
            file=out,
        )
        return 0
    names, note = _feed_names(settings)
    store = open_store(state_target(settings))
    try:
        _print_replicas(store, settings.lease_seconds, out)
        _print_status(store, out, names, wide=wide)
        _print_digests(settings, store, out)
    finally:
        store.close()
    if note:
        print(f"\n{note}", file=out)
    return 0


def _print_replicas(store: Store, ttl: float, out: TextIO) -> None:
    """PostgreSQL state: each replica sharing it, alive or not, and what it holds."""
    from bot.state.leases import replicas_of

    replicas = replicas_of(store, ttl)
    if replicas is None:
        return
    print(f"replicas ({sum(r.alive for r in replicas)} alive):", file=out)
    rows = [("REPLICA", "STARTED", "HEARTBEAT", "STATE", "FEEDS", "CHANNELS")]
    for replica in replicas:
        rows.append(
            (
                replica.id,
                _ago(replica.started),
                f"{replica.heartbeat_age:.0f} s ago",
                "alive" if replica.alive else "dead (its leases lapse)",
                str(replica.feeds),
                " ".join(replica.channels) or "-",
            )
        )
    if replicas:
        _table(rows, out)
    else:
        print("  none running", file=out)
    print(file=out)


def _feed_names(settings: Settings) -> tuple[dict[str, str], str]:
    """Feed URL -> name from the configuration; a note when it cannot be read (status goes on)."""
    from bot.config import load_config

    try:
        config = load_config(settings.config_path)
    except ConfigError as exc:
        first = exc.render().split("\n")[0]
        return {}, f"note: feed names unavailable, the configuration is invalid: {first}"
    return {feed.url: feed.name for feed in config.feeds if feed.name}, ""


def _print_digests(settings: Settings, store: Store, out: TextIO) -> None:
    """Each digest topic's next digest and the stories waiting for it (needs the config)."""
    from bot.alerts.digest import digest_topics, next_time
    from bot.config import load_config

    try:
        topics = digest_topics(load_config(settings.config_path).topics)
    except ConfigError:
        print("\ndigests: the configuration does not load (see `newsbot check`)", file=out)
        return
    if not topics:
        return
    waiting = store.held_counts()
    now = datetime.now(UTC)
    rows = [("DIGEST TOPIC", "SCHEDULE", "NEXT DIGEST", "WAITING")]
    for topic in topics:
        assert topic.digest is not None
        when = next_time(topic.digest, now)
        days = "every day" if len(topic.digest.days) == 7 else ",".join(topic.digest.days)
        schedule = f"{topic.digest.at} {days} {topic.digest.timezone}"
        shown = when.strftime("%a %Y-%m-%d %H:%M %Z") if when else "never"
        rows.append((topic.name, schedule, shown, str(waiting.get(topic.name, 0))))
    print("\ndigests (stories waiting: one per story and channel):", file=out)
    _table(rows, out)


def _enable(settings: Settings, url: str, out: TextIO) -> int:
    from bot.state import open_store

    store = open_store(state_target(settings))
    try:
        known = _known_feeds(settings, store)
        url = next((u for u, name in known.items() if url in (u, name)), url)
        if url not in known:
            listing = "\n".join(
                f"  {redact_url(u)}" + (f"  ({n})" if n else "") for u, n in known.items()
            )
            print(
                f"newsbot: {redact_url(url)} is not a configured feed. Known feeds:\n"
                f"{listing or '  (none)'}",
                file=sys.stderr,
            )
            return 2
        if not store.feed_state(url).disabled:
            print(f"{redact_url(url)} is not disabled: it is polled on its schedule", file=out)
            return 0
        store.enable_feed(url)
    finally:
        store.close()
    print(f"{redact_url(url)} enabled: it is polled again on its next turn", file=out)
    return 0


def _known_feeds(settings: Settings, store: Store) -> dict[str, str]:
    """URL -> name of every feed the configuration names or the state remembers."""
    from bot.config import load_config

    try:
        feeds = {feed.url: feed.name or "" for feed in load_config(settings.config_path).feeds}
    except ConfigError:
        feeds = {}
    for state in store.all_feed_states():
        feeds.setdefault(state.url, state.title or "")
    return dict(sorted(feeds.items()))


def _print_status(
    store: Store, out: TextIO, names: dict[str, str] | None = None, *, wide: bool = False
) -> None:
    names = names or {}
    from bot.service.runner import undelivered_lines
    from bot.state.interface import QUEUED, AlertStatus

    header = (
        "FEED",
        *(("URL",) if wide else ()),
        "LAST SUCCESS",
        "FAILURES",
        "STATE",
        "LAST ERROR",
    )
    rows: list[tuple[str, ...]] = [header]
    states = store.all_feed_states()
    for state in sorted(states, key=lambda s: (names.get(s.url) or s.title or s.url).lower()):
        condition = (
            "disabled" if state.disabled else ("failing" if state.consecutive_failures else "ok")
        )
        shown = redact_url(state.url)  # errors recorded before 0.2 may hold the raw URL
        error = (state.last_error or "").replace(state.url, shown)
        if not wide:  # the feed is named in the first column (--wide adds its URL)
            error = _without_url(error, shown)[:70]
        name = names.get(state.url) or state.title or shown
        rows.append(
            (
                name[:40] if not wide else name,
                *((shown,) if wide else ()),
                _ago(state.last_success),
                str(state.consecutive_failures),
                condition,
                error,
            )
        )
    print(f"feeds ({len(states)}):", file=out)
    _table(rows, out)
    undelivered = store.undelivered()
    waiting = sum(u.count for u in undelivered if u.status in QUEUED)
    parked = sum(u.count for u in undelivered if u.status == AlertStatus.PARKED)
    failed = sum(u.count for u in undelivered if u.status == AlertStatus.FAILED)
    print(f"\noutbox: {waiting} waiting, {parked} parked, {failed} failed", file=out)
    for line in undelivered_lines(undelivered, since=True):
        print(f"  {line}", file=out)
    recent = store.recent_alerts(0, limit=10)
    print("\nlast alerts:", file=out)
    if not recent:
        print("  none yet", file=out)
    else:
        _table(
            [
                ("QUEUED", "STATUS", "CHANNEL", "TOPIC", "HEADLINE"),
                *[(_ago(a.created), a.status, a.channel, a.topic, a.title[:70]) for a in recent],
            ],
            out,
        )
    print("\nalerts in the last 24 h:", file=out)
    counts = store.alert_counts_since(time.time() - 86400)
    _table(
        [("TOPIC", "CHANNEL", "STATUS", "COUNT"), *[(t, c, s, str(n)) for t, c, s, n in counts]],
        out,
    )
    cli_feedback.print_status(store, out)


def _without_url(error: str, url: str) -> str:
    """'fetch https://...: HTTP 500' -> 'HTTP 500': the feed is named in its own column."""
    for prefix in (f"fetch {url}: ", f"parse {url}: "):
        if error.startswith(prefix):
            return error[len(prefix) :]
    return error


def _alerts(
    settings: Settings, out: TextIO, *, since: float, topic: str | None, as_json: bool
) -> int:
    from bot.state import open_store

    if not state_exists(settings):
        print(f"no state yet at {settings.db_path}", file=out)
        return 0
    store = open_store(state_target(settings))
    try:
        records = store.recent_alerts(time.time() - since, topic=topic)
        workspace = store.meta("slack_workspace_url")
    finally:
        store.close()
    if as_json:
        for record in records:
            item = {**asdict(record), "link": _permalink(workspace, record.channel_id, record.ts)}
            print(json.dumps(item, sort_keys=True), file=out)
        return 0
    if not records:
        print(f"no alerts in the last {_since_text(since)}", file=out)
        return 0
    rows = [("QUEUED", "STATUS", "CHANNEL", "TOPIC", "HEADLINE", "SLACK")]
    for record in records:
        status = record.status + (f" ({record.error})" if record.error else "")
        link = _permalink(workspace, record.channel_id, record.ts) or "-"
        rows.append(
            (_ago(record.created), status, record.channel, record.topic, record.title[:60], link)
        )
    _table(rows, out)
    return 0


def _permalink(workspace: str | None, channel_id: str | None, ts: str | None) -> str:
    """Slack's message link: https://WORKSPACE.slack.com/archives/C123/p1700000000123456."""
    if not channel_id or not ts:
        return ""
    if not workspace:
        return f"{channel_id}/{ts}"  # the workspace is learnt by `slack-test` or `run`
    return f"{workspace.rstrip('/')}/archives/{channel_id}/p{ts.replace('.', '')}"


def _since_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= max(size, 3600 * 48 if unit == "d" else 0) and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.0f}s"


def _ago(when: float | None) -> str:
    if not when:
        return "never"
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )
