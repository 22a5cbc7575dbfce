"""Readers' feedback through the real processes: `newsbot run` posts to the Slack stand-in, a
reader reacts, `newsbot feedback sync` reads it, `feedback export` writes it, `eval` reads that."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    Item,
    env_for,
    newsbot,
    rss,
    running_service,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

STORIES = [
    Item(
        "r1",
        "Springfield council votes to ban police use of facial recognition",
        "The ordinance bars every city department from using face recognition.",
    ),
    Item(
        "r2",
        "Retailer pauses face recognition in stores after regulator fine",
        "The data protection authority fined the chain over its face scanning program.",
    ),
    Item(
        "i1",
        "City extends eviction moratorium through the winter",
        "Tenants get three more months of protection.",
    ),
]


@pytest.fixture
def setup(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> dict[str, object]:
    feed_server.set_feed("/a.xml", rss(STORIES, "Outlet A"))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = env_for(tmp_path, slack)
    return {"config": str(config), "feeds": str(feeds), "env": env, "tmp": tmp_path}


def cli(
    setup: dict[str, object], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return newsbot(*args, env=env or setup["env"])  # type: ignore[arg-type]


def run_once(setup: dict[str, object]) -> None:
    result = cli(
        setup, "run", "--once", "--config", str(setup["config"]), "--feeds", str(setup["feeds"])
    )
    assert result.returncode == 0, result.stderr


def ts_of(slack: SlackStub, words: str) -> str:
    (message,) = [m for m in slack.messages if words in m["text"]]
    return str(message["ts"])


def test_a_reaction_in_slack_shows_up_in_the_export_and_eval_reads_it(
    setup: dict[str, object], slack: SlackStub
) -> None:
    run_once(setup)
    assert len(slack.messages) == 2
    slack.add_reaction("#frt-alerts", ts_of(slack, "Retailer pauses"), "-1", user="U100")
    slack.add_reaction("#frt-alerts", ts_of(slack, "Springfield"), "white_check_mark", user="U101")
    slack.add_reaction("#frt-alerts", ts_of(slack, "Springfield"), "eyes", user="U102")

    synced = cli(setup, "feedback", "sync", "--config", str(setup["config"]))
    assert synced.returncode == 0, synced.stderr
    assert "2 verdicts new or changed" in synced.stderr
    assert slack.calls.count("conversations.history") == 1

    exported = cli(setup, "feedback", "export")
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    by_label = {item["label"]: item for item in lines}
    assert sorted(by_label) == ["irrelevant", "relevant"]
    flagged = by_label["irrelevant"]
    assert flagged["title"] == STORIES[1].title
    assert flagged["summary"].startswith("The data protection authority")
    assert flagged["url"] == "https://news.example/r2"
    assert flagged["source"] == "Outlet A"
    assert flagged["topic"] == "frt-policy"
    assert flagged["published"].endswith("Z")
    assert set(flagged) == {
        "id",
        "title",
        "summary",
        "source",
        "published",
        "url",
        "label",
        "topic",
    }
    assert "1 relevant, 1 not relevant" in exported.stderr

    export_file = Path(str(setup["tmp"])) / "fb.jsonl"
    export_file.write_text(exported.stdout, encoding="utf-8")
    evaluated = cli(setup, "eval", str(export_file), "--json", "--config", str(setup["config"]))
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    # both were alerted (the rules said relevant); the team flagged one: one false positive
    assert report["count"] == 2
    assert report["confusion"] == {"tp": 1, "fp": 1, "fn": 0, "tn": 0}
    assert [e["title"] for e in report["false_positives"]] == [STORIES[1].title]


def test_export_filters_and_writes_a_file(setup: dict[str, object], slack: SlackStub) -> None:
    run_once(setup)
    slack.add_reaction("#frt-alerts", ts_of(slack, "Retailer pauses"), "x")
    assert cli(setup, "feedback", "sync", "--config", str(setup["config"])).returncode == 0
    out = Path(str(setup["tmp"])) / "out" / "fb.jsonl"
    out.parent.mkdir()
    written = cli(
        setup, "feedback", "export", "--since", "1d", "--topic", "frt-policy", "-o", str(out)
    )
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert [json.loads(line)["label"] for line in out.read_text().splitlines()] == ["irrelevant"]
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind
    other_topic = cli(setup, "feedback", "export", "--topic", "nope")
    assert other_topic.stdout == ""
    future = cli(setup, "feedback", "export", "--since", "2999-01-01")
    assert future.stdout == ""
    bad = cli(setup, "feedback", "export", "--since", "last tuesday")
    assert bad.returncode == 2
    assert "--since" in bad.stderr
    assert "7d" in bad.stderr


def test_status_shows_the_verdicts_per_topic_and_the_latest(
    setup: dict[str, object], slack: SlackStub
) -> None:
    run_once(setup)
    before = cli(setup, "status")
    assert "last read: never" in before.stdout
    slack.add_reaction("#frt-alerts", ts_of(slack, "Retailer pauses"), "-1", user="U1")
    slack.add_reaction("#frt-alerts", ts_of(slack, "Retailer pauses"), "-1", user="U2")
    slack.add_reaction("#frt-alerts", ts_of(slack, "Retailer pauses"), "+1", user="U3")
    cli(setup, "feedback", "sync", "--config", str(setup["config"]))
    status = cli(setup, "status")
    assert status.returncode == 0, status.stderr
    text = status.stdout
    assert "feedback from readers" in text
    assert "1 verdicts new or changed" in text  # the last sync's line
    rows = [line.split() for line in text.splitlines()]
    assert ["frt-policy", "0", "1"] in rows
    assert any(
        "not relevant" in line and "Retailer pauses" in line and "1 relevant / 2 not" in line
        for line in text.splitlines()
    )


def test_sync_without_a_token_or_with_a_missing_scope_says_what_to_do(
    setup: dict[str, object], slack: SlackStub
) -> None:
    run_once(setup)
    env = {k: v for k, v in setup["env"].items() if k != "SLACK_BOT_TOKEN"}  # type: ignore[attr-defined]
    no_token = cli(setup, "feedback", "sync", "--config", str(setup["config"]), env=env)
    assert no_token.returncode == 2
    assert "SLACK_BOT_TOKEN" in no_token.stderr
    slack.scopes.discard("channels:history")
    refused = cli(setup, "feedback", "sync", "--config", str(setup["config"]))
    assert refused.returncode == 1
    assert "#frt-alerts: missing_scope: add the channels:history scope" in refused.stderr
    assert slack.token not in refused.stderr


def test_the_service_reads_reactions_on_its_schedule(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    tmp = Path(str(setup["tmp"]))
    folder = tmp / "service-config"
    write_config(folder, extra_defaults="  feedback_interval: 10\n")
    config = folder / "newsbot.yaml"
    config.write_text(
        config.read_text().replace("feeds: []", f"feeds:\n  - url: {feed_server.url('/a.xml')}\n"),
        encoding="utf-8",
    )
    env = {**setup["env"], "NEWSBOT_HTTP_PORT": "0"}  # type: ignore[dict-item]
    with running_service(config, env, tmp / "service.log") as service:
        slack.wait_for_messages(2, timeout=30)
        slack.add_reaction("#frt-alerts", ts_of(slack, "Springfield"), "-1")
        deadline = time.monotonic() + 40
        labels: list[tuple[str, str]] = []
        while time.monotonic() < deadline and not labels:
            time.sleep(0.5)
            with sqlite3.connect(str(setup["env"]["NEWSBOT_DB"])) as db:  # type: ignore[index]
                labels = db.execute("SELECT title, label FROM feedback").fetchall()
        assert labels == [(STORIES[0].title, "irrelevant")], service.logs()
        assert service.stop(timeout=20) == 0
    assert "feedback recorded" in service.logs()
