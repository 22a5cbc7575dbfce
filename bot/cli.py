"""The `newsbot` command line: run, check, match, explain, eval, status, healthcheck.

Exit codes: 0 success; 1 a runtime failure (state database, unexpected error); 2 an invalid
configuration or invalid arguments (the message says file, line, key path and what is wrong).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import __version__
from bot.config import Config, load_config, load_feed_list
from bot.errors import ConfigError, NewsbotError
from bot.logs import setup_logging
from bot.settings import Settings, from_env
from bot.urls import redact_url

if TYPE_CHECKING:  # imported lazily at run time, by the commands that open the state
    from bot.store import Store

log = logging.getLogger("newsbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--config", help="config file (default: $NEWSBOT_CONFIG or config/newsbot.yaml)"
        )
        return cmd

    run = command("run", "poll the feeds on their schedule and post alerts (until SIGTERM)")
    run.add_argument(
        "--feeds",
        type=Path,
        help="poll the feeds of this OPML or URL-list file instead of the configured ones",
    )
    run.add_argument("--once", action="store_true", help="poll every feed once, deliver, exit")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print alerts to the terminal; change no state and post nothing",
    )
    command("check", "validate the configuration")
    match = command("match", "match JSON-lines stories against the topics")
    match.add_argument("file", nargs="?", default="-", help="JSON lines (default: stdin)")
    explain = command(
        "explain",
        "explain how a story matches (or nearly matches) each topic: "
        "the same verdict `match` gives",
    )
    explain.add_argument(
        "text",
        help='the headline, or - to read a JSON story ({"title": ..., "summary": ...}) from stdin',
    )
    explain.add_argument("--summary", default="", help="the story's summary (lede)")
    evaluate = command("eval", "precision/recall (or clustering) on a labelled JSON-lines file")
    evaluate.add_argument("file")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.add_argument("--clusters", action="store_true", help="evaluate event clustering")
    evaluate.add_argument(
        "--rules-only",
        action="store_true",
        help="leave out the topics' meaning stage (to measure what it adds)",
    )
    command("status", "feed health, outbox depth, recent alerts")
    enable = command("enable", "poll a feed again that was disabled (HTTP 410 Gone)")
    enable.add_argument("url")
    health = sub.add_parser("healthcheck", help="exit 0 when the running service is healthy")
    health.add_argument("--url", help="default: http://127.0.0.1:$NEWSBOT_HTTP_PORT/healthz")
    return parser


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
        from bot.health import probe_main

        return probe_main(args.url or f"http://127.0.0.1:{settings.http_port or 8080}/healthz")
    if args.command == "enable":
        return _enable(settings, args.url, sys.stdout)
    if args.command == "status":
        return _status(settings, sys.stdout)
    config = load_config(settings.config_path)
    if args.command == "check":
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(
            f"{settings.config_path}: OK ({len(config.topics)} topics, {len(config.feeds)} feeds)"
        )
        return 0
    if args.command == "run":
        return _run(args, settings, config)
    from bot import evaluate

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
        from bot.evaluate_clusters import cmd_eval_clusters

        # The labelled file has no topic: the first topic's cluster settings apply.
        first_topic_cluster = config.topics[0].cluster if config.topics else None
        return cmd_eval_clusters(
            args.file, sys.stdout, as_json=args.json, settings=first_topic_cluster
        )
    topics = config.topics
    if args.rules_only:
        topics = tuple(replace(topic, meaning=None) for topic in topics)
    return evaluate.cmd_eval(topics, args.file, sys.stdout, as_json=args.json)


def _run(args: argparse.Namespace, settings: Settings, config: Config) -> int:
    from bot.wiring import build_service

    if args.feeds:
        config = config.with_feeds(load_feed_list(args.feeds, config.defaults))
    service = build_service(
        settings,
        config,
        dry_run=args.dry_run,
        feeds_override=list(config.feeds) if args.feeds else None,
    )
    try:
        if not args.once:
            return service.run_forever()
        summary = service.run_once()
        if args.dry_run:
            _print_skipped(summary.skipped, sys.stdout)
        print(f"newsbot: {summary.line()}", file=sys.stderr)
        return 0
    finally:
        service.close()


def _print_skipped(skipped: Sequence[tuple[str, str, str]], out: TextIO) -> None:
    """--dry-run: what the poll would only mark seen, and why (the alerts were printed above)."""
    from bot.format import clean_text

    for feed_url, title, why in skipped:
        print(f"skip: {clean_text(title)[:200] or '(untitled)'}\n    {feed_url}: {why}", file=out)


def _explain_clusters(
    settings: Settings, config: Config, text: str, summary: str, out: TextIO
) -> None:
    """For a matching headline: would it fold into an alert already posted (state database)?"""
    from bot.match import Matcher
    from bot.models import Story
    from bot.pipeline import cluster_decision
    from bot.store import Store

    matches = Matcher(config.topics).match(text, summary)
    if not matches:
        return
    if not settings.db_path.exists():
        print(
            f"\nclustering: no state at {settings.db_path}, so this would be a new alert", file=out
        )
        return
    store = Store(settings.db_path)
    story = Story("explain", "", text, summary, "explain", datetime.now(UTC))
    topics = {topic.name: topic for topic in config.topics}
    try:
        with store.transaction() as db:
            for match in matches:
                topic = topics[match.topic]
                for channel in topic.channels:
                    decision = cluster_decision(
                        story,
                        topic,
                        channel,
                        lambda ch, since: store.alerted_reports(db, ch, since),
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


def _status(settings: Settings, out: TextIO) -> int:
    from bot.store import Store

    if not settings.db_path.exists():
        print(
            f"no state yet at {settings.db_path} (newsbot has not run with this NEWSBOT_DB)",
            file=out,
        )
        return 0
    store = Store(settings.db_path)
    try:
        _print_status(store, out)
    finally:
        store.close()
    return 0


def _enable(settings: Settings, url: str, out: TextIO) -> int:
    from bot.store import Store

    store = Store(settings.db_path)
    try:
        if not store.feed_state(url).disabled:
            print(f"{redact_url(url)} is not disabled", file=out)
            return 0
        store.enable_feed(url)
    finally:
        store.close()
    print(f"{redact_url(url)} enabled: it is polled again on its next turn", file=out)
    return 0


def _print_status(store: Store, out: TextIO) -> None:
    rows = [("FEED", "LAST SUCCESS", "FAILURES", "STATE", "LAST ERROR")]
    for state in sorted(store.all_feed_states(), key=lambda s: s.url):
        condition = (
            "disabled" if state.disabled else ("failing" if state.consecutive_failures else "ok")
        )
        shown = redact_url(state.url)  # errors recorded before 0.2 may hold the raw URL
        rows.append(
            (
                shown,
                _ago(state.last_success),
                str(state.consecutive_failures),
                condition,
                (state.last_error or "").replace(state.url, shown)[:80],
            )
        )
    _table(rows, out)
    print(f"\noutbox: {store.outbox_depth()} queued", file=out)
    for channel, reason, count in store.parked():
        print(f"parked: {count} alerts for {channel} ({reason})", file=out)
    for alert_id, channel, reason in store.failed():
        print(f"failed: alert {alert_id} in {channel} ({reason})", file=out)
    print("\nalerts in the last 24 h:", file=out)
    counts = store.alert_counts_since(time.time() - 86400)
    _table(
        [("TOPIC", "CHANNEL", "STATUS", "COUNT"), *[(t, c, s, str(n)) for t, c, s, n in counts]],
        out,
    )


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
