"""`newsbot run --once` as a real subprocess against a local feed server and the Slack stand-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import (
    ROOT,
    Item,
    clean_env,
    env_for,
    newsbot,
    rss,
    wait_until,
    write_config,
    write_feed_list,
)
from tests.slackstub import SlackStub

RELEVANT = [
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
]
IRRELEVANT = [
    Item(
        "i1",
        "New phone lets you unlock with facial recognition in the dark",
        "The handset's face unlock works in low light.",
    ),
    Item(
        "i2",
        "City extends eviction moratorium through the winter",
        "Tenants get three more months of protection.",
    ),
]


@pytest.fixture
def setup(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> dict[str, object]:
    feed_server.set_feed("/a.xml", rss(RELEVANT + IRRELEVANT, "Outlet A"))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = env_for(tmp_path, slack)
    return {"config": str(config), "feeds": str(feeds), "env": env}


def run_once(setup: dict[str, object], *extra: str) -> tuple[int, str, str]:
    result = newsbot(
        "run",
        "--once",
        "--config",
        str(setup["config"]),
        "--feeds",
        str(setup["feeds"]),
        *extra,
        env=setup["env"],
    )  # type: ignore[arg-type]
    return result.returncode, result.stdout, result.stderr


def titles(slack: SlackStub) -> list[str]:
    return [m["text"] for m in slack.messages]


def test_relevant_stories_are_posted_once_and_irrelevant_ones_not(
    setup: dict[str, object], slack: SlackStub
) -> None:
    code, _, err = run_once(setup)
    assert code == 0, err
    posted = titles(slack)
    assert len(posted) == 2, posted
    assert any("Springfield council" in text for text in posted)
    assert any("Retailer pauses" in text for text in posted)
    assert not any("unlock" in text or "eviction" in text for text in posted)
    message = slack.messages[0]
    assert message["metadata"]["event_payload"]["alert_id"]
    assert message["blocks"], "alerts are Block Kit messages with a text fallback"
    assert str(message["unfurl_links"]).lower() in ("false", "0")


def test_alerts_go_out_while_a_slower_feed_is_still_being_polled(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer, tmp_path: Path
) -> None:
    """An alert waits for its own feed's poll, not for the slowest feed's."""
    feed_server.set_hang("/slow.xml", seconds=60)  # answers nothing: cut off by the read timeout
    config = write_config(tmp_path / "config", extra_defaults="  read_timeout: 6\n")
    write_feed_list(tmp_path, [feed_server.url("/a.xml"), feed_server.url("/slow.xml")])
    args = ["run", "--once", "--config", str(config), "--feeds", str(setup["feeds"])]
    env = clean_env({"NEWSBOT_HTTP_PORT": "0", **setup["env"]})  # type: ignore[dict-item]
    log = tmp_path / "run.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, stderr=sink, text=True
        )
        try:
            wait_until(lambda: len(slack.messages) == 2 or process.poll() is not None, 30)
            # The slow feed's poll has not ended yet: no line about it has been logged.
            assert "slow.xml" not in log.read_text(), log.read_text()
        finally:
            process.wait(timeout=60)
    assert len(slack.messages) == 2, titles(slack)
    text = log.read_text()
    assert "slow.xml" in text  # its poll failed (read timeout), after the posts
    assert "polled 2 feeds (1 failed)" in text, text
    assert "2 delivered" in text, text


def test_a_second_run_posts_nothing_and_is_answered_304(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    run_once(setup)
    code, _, err = run_once(setup)
    assert code == 0, err
    assert len(slack.messages) == 2
    second = feed_server.requests[-1]
    assert second.headers.get("If-None-Match"), "the second poll is a conditional GET"
    assert "0 new stories" in err


def test_a_new_story_is_posted_exactly_once(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    run_once(setup)
    fresh = Item(
        "r3",
        "State senate passes moratorium on face recognition by police",
        "The bill pauses police face recognition for two years.",
        hours_ago=0.1,
    )
    feed_server.set_feed("/a.xml", rss([fresh, *RELEVANT, *IRRELEVANT], "Outlet A"))
    run_once(setup)
    run_once(setup)
    posted = titles(slack)
    assert len(posted) == 3
    assert sum("State senate passes" in text for text in posted) == 1


def test_a_feed_added_later_follows_the_first_poll_rule(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer, tmp_path: Path
) -> None:
    run_once(setup)
    archive = Item("b1", "County adopts facial recognition ban", "The ban passed.", hours_ago=30)
    recent = Item("b0", "Port authority pauses face recognition at gates", hours_ago=2)
    feed_server.set_feed("/b.xml", rss([recent, archive]))
    write_feed_list(tmp_path, [feed_server.url("/a.xml"), feed_server.url("/b.xml")])
    code, _, err = run_once(setup)
    assert code == 0, err
    assert len(slack.messages) == 3, titles(slack)  # b's recent story, not its archive
    assert "Port authority" in slack.messages[-1]["text"]
    assert "1 older or undated stories only marked seen" in err
    feed_server.set_feed(
        "/b.xml",
        rss(
            [
                Item("b2", "Governor signs facial recognition moratorium into law", hours_ago=0.1),
                recent,
                archive,
            ]
        ),
    )
    run_once(setup)
    assert len(slack.messages) == 4
    assert "Governor signs" in slack.messages[-1]["text"]


def test_the_same_story_in_two_feeds_is_posted_once(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer, tmp_path: Path
) -> None:
    shared = Item(
        "other-guid",
        RELEVANT[0].title,
        RELEVANT[0].summary,
        link="https://news.example/r1?utm_source=rss&utm_medium=feed",
    )
    feed_server.set_feed("/b.xml", rss([shared], "Outlet B"))
    write_feed_list(tmp_path, [feed_server.url("/a.xml"), feed_server.url("/b.xml")])
    run_once(setup)
    assert len(slack.messages) == 2


def test_slack_500_leaves_the_alert_queued_and_the_next_run_delivers_it_once(
    setup: dict[str, object], slack: SlackStub
) -> None:
    slack.fail_next("chat.postMessage", status=500, record=False)
    code, _, err = run_once(setup)
    assert code == 3, err  # alerts left undelivered
    assert len(slack.messages) == 0  # the channel is held: order is kept behind the failure
    assert "2 waiting in the outbox" in err
    run_once(setup)
    run_once(setup)
    assert len(slack.messages) == 2
    assert len({m["metadata"]["event_payload"]["alert_id"] for m in slack.messages}) == 2


def test_a_post_slack_received_but_never_answered_is_not_posted_twice(
    setup: dict[str, object], slack: SlackStub
) -> None:
    slack.fail_next("chat.postMessage", drop=True)  # recorded, then the connection drops
    run_once(setup)
    run_once(setup)
    ids = [m["metadata"]["event_payload"]["alert_id"] for m in slack.messages]
    assert len(ids) == 2
    assert len(set(ids)) == 2


def test_hostile_titles_are_escaped(
    setup: dict[str, object], slack: SlackStub, feed_server: FeedServer
) -> None:
    hostile = Item(
        "h1",
        "<!channel> City bans facial recognition <https://evil.example|Click> & <@U123>",
        "Council approves a ban on face recognition <!here>.",
    )
    feed_server.set_feed("/a.xml", rss([hostile], "Outlet A"))
    run_once(setup)
    (message,) = slack.messages
    rendered = str(message["text"]) + str(message["blocks"])
    for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil.example|Click>"):
        assert raw not in rendered
    assert "&lt;!channel&gt;" in message["text"]


def test_dry_run_prints_alerts_and_changes_nothing(
    setup: dict[str, object], slack: SlackStub
) -> None:
    code, out, err = run_once(setup, "--dry-run")
    assert code == 0, err
    assert "Springfield council" in out
    assert "eviction" not in out
    assert slack.messages == []
    run_once(setup)  # the real run still has everything to post
    assert len(slack.messages) == 2


def test_without_a_token_alerts_are_printed_to_the_terminal(
    setup: dict[str, object], slack: SlackStub
) -> None:
    env = dict(setup["env"])  # type: ignore[call-overload]
    del env["SLACK_BOT_TOKEN"]
    result = newsbot(
        "run", "--once", "--config", str(setup["config"]), "--feeds", str(setup["feeds"]), env=env
    )
    assert result.returncode == 0, result.stderr
    assert "Springfield council" in result.stdout
    assert "Retailer pauses" in result.stdout
    assert slack.messages == []


def test_invalid_config_exits_2_with_the_place_of_the_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "bad", topics="- name: x\n  channels: ['#a']\n  query: '(ban OR'\n"
    )
    result = newsbot("check", "--config", str(config), env={})
    assert result.returncode == 2
    assert "topics.yaml:3 topics[x].query: query syntax error at column" in result.stderr
