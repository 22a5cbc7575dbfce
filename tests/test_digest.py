"""Digests through the real `newsbot` process: held by `run`, posted once by `digest`.

A topic with `delivery: digest` holds its matched stories; `newsbot digest` posts them grouped
by event in a few Block Kit messages, each message exactly once (crash included); `status` shows
the next digest and how many stories wait for it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    ROOT,
    Item,
    ServiceProcess,
    clean_env,
    env_for,
    newsbot,
    rss,
    running_service,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

DIGEST_TOPIC = """\
- name: frt-policy
  channels: ["#frt-digest"]
  threshold: 30
  delivery: digest
  digest: {at: "08:00", days: [mon, wed, fri], timezone: Europe/Paris}
  query: |
    ("facial recognition" OR "face recognition" OR "face scanning")
    AND (ban* OR moratorium OR law OR pause* OR fine*)
    -unlock
"""

TOWNS = ("Ashford", "Belmont", "Corby", "Dunmore", "Elgin", "Fenwick", "Garston", "Holt")


def stories(count: int, offset: int = 0) -> list[Item]:
    return [
        Item(
            f"d{n}",
            f"{TOWNS[n % len(TOWNS)]} council votes to ban facial recognition (story {n})",
            f"{TOWNS[n % len(TOWNS)]} bars police face recognition <b>&amp; more</b>.",
            hours_ago=1 + n / 10,
        )
        for n in range(offset, offset + count)
    ]


FOLLOW_UP = Item(
    "d-follow",
    "Ashford council votes to ban facial recognition, officials confirm (story 100)",
    "Ashford bars police face recognition.",
    hours_ago=0.5,
)
IRRELEVANT = Item("i1", "Phone maker adds facial recognition unlock", "Face unlock.", hours_ago=1)


@pytest.fixture
def ctx(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> dict[str, object]:
    feed_server.set_feed("/a.xml", rss([FOLLOW_UP, *stories(6), IRRELEVANT], "Outlet A"))
    config = write_config(tmp_path / "config", topics=DIGEST_TOPIC)
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = env_for(tmp_path, slack)
    return {"config": str(config), "feeds": str(feeds), "env": env}


def run(ctx: dict[str, object], *args: str) -> subprocess.CompletedProcess[str]:
    extra = ("--feeds", str(ctx["feeds"])) if args[0] == "run" else ()
    result = newsbot(*args, "--config", str(ctx["config"]), *extra, env=ctx["env"])  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result


def posted_story_numbers(slack: SlackStub) -> list[str]:
    text = " ".join(json.dumps(message["blocks"]) for message in slack.messages)
    return re.findall(r"\(story (\d+)\)", text)


def test_run_holds_and_digest_posts_each_story_once_grouped_by_event(
    ctx: dict[str, object], slack: SlackStub
) -> None:
    result = run(ctx, "run", "--once")
    assert slack.messages == []
    assert "7 held for digests" in result.stderr
    result = run(ctx, "digest")
    assert "digest frt-policy -> #frt-digest: 7 stories in 1 message" in result.stderr
    assert 1 <= len(slack.messages) <= 5
    assert sorted(posted_story_numbers(slack), key=int) == ["0", "1", "2", "3", "4", "5", "100"]
    (message,) = slack.messages
    assert message["metadata"]["event_payload"]["alert_id"].startswith("digest-")
    blocks = message["blocks"]
    assert "*Digest: frt-policy* · 7 stories about 6 events" in blocks[0]["text"]["text"]
    event = next(i for i, b in enumerate(blocks) if "(story 0)" in json.dumps(b))
    assert "Outlet A" in blocks[event]["text"]["text"]
    assert "recognition &amp; more." in blocks[event]["text"]["text"]  # escaped for mrkdwn
    assert "<b>" not in json.dumps(blocks)
    follow_up = blocks[event + 1]
    assert follow_up["type"] == "context"
    assert "Also: <https://news.example/d-follow|" in follow_up["elements"][0]["text"]
    assert "unlock" not in json.dumps(slack.messages)
    again = run(ctx, "digest")
    assert len(slack.messages) == 1
    assert "digest frt-policy: no story waiting, nothing posted" in again.stderr


def test_stories_held_after_a_digest_go_into_the_next_one(
    ctx: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    run(ctx, "run", "--once")
    run(ctx, "digest")
    feed_server.set_feed("/a.xml", rss([*stories(2, offset=20), FOLLOW_UP, *stories(6)]))
    run(ctx, "run", "--once")
    run(ctx, "digest")
    assert len(slack.messages) == 2
    second = json.dumps(slack.messages[1]["blocks"])
    assert sorted(re.findall(r"\(story (\d+)\)", second)) == ["20", "21"]  # only the new ones


def test_a_big_digest_is_split_within_slack_limits(
    ctx: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    feed_server.set_feed("/a.xml", rss(many_events(70), "Outlet A"))
    run(ctx, "run", "--once")
    run(ctx, "digest")
    assert 2 <= len(slack.messages) <= 5
    for message in slack.messages:
        assert len(message["blocks"]) <= 50
        assert all(len(json.dumps(block)) < 3500 for block in message["blocks"])
    assert sorted(posted_story_numbers(slack), key=int) == [str(n) for n in range(70)]
    ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages]
    assert len(set(ids)) == len(ids)


def test_dry_run_prints_the_digest_and_changes_nothing(
    ctx: dict[str, object], slack: SlackStub
) -> None:
    run(ctx, "run", "--once")
    result = run(ctx, "digest", "--dry-run")
    assert "Digest: frt-policy" in result.stdout
    assert "(story 3)" in result.stdout
    assert slack.messages == []
    run(ctx, "digest")
    assert len(slack.messages) == 1


def test_status_shows_the_next_digest_and_how_many_stories_wait(
    ctx: dict[str, object], slack: SlackStub
) -> None:
    run(ctx, "run", "--once")
    line = digest_line(run(ctx, "status").stdout)
    assert "08:00 mon,wed,fri Europe/Paris" in line
    assert re.search(r"(Mon|Wed|Fri) \d{4}-\d\d-\d\d 08:00 CE", line), line  # CET or CEST
    assert line.split()[-1] == "7"
    run(ctx, "digest")
    assert digest_line(run(ctx, "status").stdout).split()[-1] == "0"


def digest_line(status: str) -> str:
    section = status.split("\ndigests", 1)[1]
    return next(line for line in section.splitlines() if line.startswith("frt-policy"))


def test_digest_of_an_unknown_or_realtime_topic_exits_2(
    ctx: dict[str, object], tmp_path: Path
) -> None:
    result = newsbot("digest", "--config", str(ctx["config"]), "--topic", "nope", env={})
    assert result.returncode == 2
    assert "'nope' is not a configured topic; topics in digest mode: frt-policy" in result.stderr
    realtime = write_config(tmp_path / "rt")
    result = newsbot("digest", "--config", str(realtime), "--topic", "frt-policy", env={})
    assert result.returncode == 2
    assert "posts in real time" in result.stderr


def many_events(count: int) -> list[Item]:
    return [
        Item(
            f"m{n}",
            f"Town{n} votes facial recognition ban number {n} (story {n})",
            f"Report {n}.",
            hours_ago=1 + n / 100,
        )
        for n in range(count)
    ]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("events", "killed_in"), [(0, 1), (70, 2)], ids=["one-message digest", "second of 2 parts"]
)
def test_sigkill_while_the_digest_is_posted_leaves_it_there_exactly_once(
    ctx: dict[str, object], slack: SlackStub, feed_server: FeedServer, events: int, killed_in: int
) -> None:
    if events:
        feed_server.set_feed("/a.xml", rss(many_events(events), "Outlet A"))
    run(ctx, "run", "--once")
    expected = sorted(
        ["0", "1", "2", "3", "4", "5", "100"] if not events else [str(n) for n in range(events)]
    )
    for _ in range(killed_in - 1):
        slack.fail_next("chat.postMessage", delay=0.01)  # answered: these parts go through
    slack.fail_next("chat.postMessage", delay=30.0)  # Slack has this part; the answer is slow
    command = [sys.executable, "-m", "bot", "digest", "--config", str(ctx["config"])]
    env = {**_base_env(), **ctx["env"]}  # type: ignore[dict-item]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        slack.wait_for_messages(killed_in, timeout=60)
        time.sleep(0.2)
        assert process.poll() is None, "the digest command ended before the answer came"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(slack.messages) == killed_in
    result = run(ctx, "digest")
    run(ctx, "digest")
    ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages]
    assert len(ids) == len(set(ids)) == (killed_in if events else 1), result.stderr
    assert sorted(posted_story_numbers(slack)) == expected
    assert "alert was already posted; not posting again" in result.stderr


def _service(ctx: dict[str, object], tmp_path: Path) -> AbstractContextManager[ServiceProcess]:
    """`newsbot run` on the context's config, feeds and state, as a service."""
    return running_service(
        ctx["config"],  # type: ignore[arg-type]
        {"NEWSBOT_HTTP_PORT": "0", **ctx["env"]},  # type: ignore[dict-item]
        tmp_path / "service.log",
        extra_args=("--feeds", str(ctx["feeds"])),
    )


def _base_env() -> dict[str, str]:
    return clean_env({"NEWSBOT_HTTP_PORT": "0"})


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_service_posts_the_digest_at_its_time_in_its_zone(
    ctx: dict[str, object], slack: SlackStub, tmp_path: Path
) -> None:
    zone = ZoneInfo("Asia/Kathmandu")  # UTC+05:45: a wrong zone would miss the minute
    due = (datetime.now(zone) + timedelta(seconds=75)).replace(second=0, microsecond=0)
    topics = DIGEST_TOPIC.replace(
        'digest: {at: "08:00", days: [mon, wed, fri], timezone: Europe/Paris}',
        f'digest: {{at: "{due:%H:%M}", timezone: Asia/Kathmandu}}',
    )
    (tmp_path / "config" / "topics.yaml").write_text(topics, encoding="utf-8")
    run(ctx, "run", "--once")  # the stories are held
    assert slack.messages == []
    with _service(ctx, tmp_path) as service:
        slack.wait_for_messages(1, timeout=240)
        posted_at = datetime.now(zone)
        service.stop(timeout=60)
    assert posted_at >= due, (posted_at, due)
    assert "digest queued" in service.logs()
    assert sorted(posted_story_numbers(slack), key=int) == ["0", "1", "2", "3", "4", "5", "100"]
    assert slack.messages[0]["metadata"]["event_payload"]["alert_id"].startswith("digest-")


def test_a_digest_slack_refuses_for_now_exits_3_and_goes_out_once_later(
    ctx: dict[str, object], slack: SlackStub
) -> None:
    run(ctx, "run", "--once")
    slack.fail_next("chat.postMessage", status=500)  # not recorded: Slack did not take it
    env = ctx["env"]
    failed = newsbot("digest", "--config", str(ctx["config"]), env=env)  # type: ignore[arg-type]
    assert failed.returncode == 3, failed.stderr
    assert "1 waiting in the outbox" in failed.stderr
    assert "exit 3: messages left undelivered" in failed.stderr
    assert slack.messages == []
    later = run(ctx, "digest")  # nothing new to cut; the queued digest goes out
    assert "no story waiting" in later.stderr
    run(ctx, "digest")
    assert len(slack.messages) == 1
    assert sorted(posted_story_numbers(slack), key=int) == ["0", "1", "2", "3", "4", "5", "100"]


def test_stories_held_by_a_topic_switched_back_to_realtime_go_out_in_a_last_digest(
    ctx: dict[str, object], slack: SlackStub, tmp_path: Path
) -> None:
    run(ctx, "run", "--once")
    realtime = DIGEST_TOPIC.replace("  delivery: digest\n", "").replace(
        '  digest: {at: "08:00", days: [mon, wed, fri], timezone: Europe/Paris}\n', ""
    )
    (tmp_path / "config" / "topics.yaml").write_text(realtime, encoding="utf-8")
    result = run(ctx, "digest")
    assert "digest frt-policy -> #frt-digest: 7 stories in 1 message" in result.stderr
    assert sorted(posted_story_numbers(slack), key=int) == ["0", "1", "2", "3", "4", "5", "100"]
    run(ctx, "digest")
    assert len(slack.messages) == 1


def test_the_service_sends_what_a_topic_back_in_realtime_still_holds(
    ctx: dict[str, object], slack: SlackStub, tmp_path: Path
) -> None:
    run(ctx, "run", "--once")
    realtime = DIGEST_TOPIC.replace("  delivery: digest\n", "").replace(
        '  digest: {at: "08:00", days: [mon, wed, fri], timezone: Europe/Paris}\n', ""
    )
    (tmp_path / "config" / "topics.yaml").write_text(realtime, encoding="utf-8")
    with _service(ctx, tmp_path) as service:
        slack.wait_for_messages(1, timeout=60)
        service.stop(timeout=60)
    assert "its held stories go out in a last digest" in service.logs()
    (message,) = slack.messages
    assert message["metadata"]["event_payload"]["alert_id"].startswith("digest-")
    assert sorted(posted_story_numbers(slack), key=int) == ["0", "1", "2", "3", "4", "5", "100"]
