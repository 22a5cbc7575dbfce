"""`newsbot feedback sync|export` and the feedback part of `newsbot status`.

- `feedback sync`: read readers' reactions on the alerts of the last `defaults.feedback_days` days
  from Slack now (the service does it every `defaults.feedback_interval` seconds). Exit 0 when
  every channel was read, 1 when one could not be (the line says which and why), 2 without a
  Slack token.
- `feedback export [--since 7d|DATE] [--topic NAME] [-o FILE]`: the recorded verdicts as labelled
  JSON lines (id, title, summary, source, published, url, label, topic), oldest first, the format
  `newsbot eval` reads. `--since` filters on when the verdict was last changed. With `-o` the file
  is replaced whole or not at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.settings import Settings, state_exists, state_target

if TYPE_CHECKING:  # imported lazily at run time: every `newsbot` command imports this module
    from bot.state.interface import Store

RECENT = 5  # verdicts listed by `newsbot status`


def add_parser(sub: Any, config_help: str) -> None:
    """Add `feedback` with its actions to the `newsbot` subcommands (in the style of cli.py)."""

    def parser(into: Any, name: str, text: str, example: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = into.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        return made

    feedback = parser(
        sub,
        "feedback",
        "readers' verdicts from Slack reactions: read them now, or export them for eval",
        "newsbot feedback sync && newsbot feedback export > fb.jsonl && newsbot eval fb.jsonl",
    )
    actions = feedback.add_subparsers(dest="feedback_action", required=True, metavar="ACTION")
    sync = parser(
        actions,
        "sync",
        "read the reactions on recent alerts from Slack now (the service does it every 10 min)",
        "newsbot feedback sync    # exit 0 all channels read, 1 one was not, 2 no Slack token",
    )
    sync.add_argument("--config", help=config_help)
    export = parser(
        actions,
        "export",
        "write the verdicts as labelled JSON lines for `newsbot eval`",
        "newsbot feedback export --since 30d --topic frt-policy -o fb.jsonl",
    )
    export.add_argument(
        "--since",
        type=_since,
        metavar="7d|DATE",
        help="only verdicts given or changed since then (e.g. 7d, 12h, 2026-11-01)",
    )
    export.add_argument("--topic", metavar="NAME", help="only this topic's alerts")
    export.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.feedback_action == "export":
        return _export(settings, args.since, args.topic, args.output)
    return _sync(settings)


def _since(text: str) -> float:
    from bot.slack.feedback import parse_since

    try:
        return parse_since(text, time.time())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _sync(settings: Settings) -> int:
    from bot.config import load_config
    from bot.service.wiring import build_feedback_sync
    from bot.state import open_store

    config = load_config(settings.config_path)
    if not settings.slack_token:
        print(
            "newsbot: feedback sync reads reactions from Slack: set SLACK_BOT_TOKEN (or "
            "SLACK_BOT_TOKEN_FILE)",
            file=sys.stderr,
        )
        return 2
    if not state_exists(settings):
        print(
            f"newsbot: no state yet at {settings.db_path}: no alerts to read reactions on",
            file=sys.stderr,
        )
        return 0
    store = open_store(state_target(settings))
    try:
        syncer = build_feedback_sync(settings, store)
        assert syncer is not None  # a token is set
        report = syncer.sync(config.defaults.feedback_days)
    finally:
        store.close()
    print(f"newsbot: feedback: {report.line()}", file=sys.stderr)
    return 0 if report.ok else 1


def _export(settings: Settings, since: float | None, topic: str | None, output: Path | None) -> int:
    from bot.slack.feedback import IRRELEVANT, export_line
    from bot.state import open_store

    items = []
    if state_exists(settings):
        store = open_store(state_target(settings))
        try:
            items = store.feedback_list(since=since, topic=topic)
        finally:
            store.close()
    lines = [export_line(item) for item in items]
    if output is None:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
    else:
        _write_whole(output, lines)
    flagged = sum(item.verdict.label == IRRELEVANT for item in items)
    where = f" to {output}" if output else ""
    print(
        f"newsbot: feedback export: {len(items)} stories ({len(items) - flagged} relevant, "
        f"{flagged} not relevant){where}",
        file=sys.stderr,
    )
    return 0


def _write_whole(path: Path, lines: Sequence[str]) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written export."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_status(store: Store, out: TextIO) -> None:
    """The feedback part of `newsbot status`: counts per topic, last sync, latest verdicts."""
    from bot.cli.main import _ago as _when
    from bot.cli.main import _table
    from bot.slack.feedback import IRRELEVANT, last_sync

    print("\nfeedback from readers (reactions):", file=out)
    synced = last_sync(store)
    if synced is None:
        print(
            "last read: never (the service reads reactions when it has a Slack token; "
            "or run `newsbot feedback sync`)",
            file=out,
        )
    else:
        print(f"last read: {_when(synced[0])}: {synced[1]}", file=out)
    counts = store.feedback_counts()
    if not counts:
        print("no verdicts yet", file=out)
        return
    rows = [("TOPIC", "RELEVANT", "NOT RELEVANT")]
    rows += [(topic, str(yes), str(no)) for topic, yes, no in counts]
    _table(rows, out)
    print("latest verdicts:", file=out)
    for item in store.feedback_list(newest_first=True, limit=RECENT):
        label = "not relevant" if item.verdict.label == IRRELEVANT else "relevant"
        votes = f"{item.verdict.relevant} relevant / {item.verdict.irrelevant} not"
        print(
            f"  {_when(item.updated)}  {label:<12}  {item.channel}  {item.story.title[:70]}  "
            f"({votes})",
            file=out,
        )
