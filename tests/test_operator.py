"""What an operator meets on the command line: run --once exit codes and summaries, status,
alerts, slack-test, enable, --help. Every test runs the real `newsbot` as a subprocess against
the local feed server and the Slack stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.feedserver import FeedServer
from tests.helpers import Item, newsbot, rss, write_config
from tests.slackstub import SlackStub

STORIES = [
    Item("r1", "Springfield council votes to ban police use of facial recognition", "A ban."),
    Item("r2", "Retailer pauses face recognition in stores after regulator fine", "A fine."),
]
FEEDS = "- url: {a}\n  name: Outlet A\n- url: {b}\n  name: Outlet B\n"


@pytest.fixture
def setup(tmp_path: Path, feed_server: FeedServer, slack: SlackStub) -> dict[str, str]:
    feed_server.set_feed("/a.xml", rss(STORIES[:1], "Outlet A"))
    feed_server.set_feed("/b.xml", rss(STORIES[1:], "Outlet B"))
    config = write_config(tmp_path / "config")
    (config.parent / "feeds.yaml").write_text(
        FEEDS.format(a=feed_server.url("/a.xml"), b=feed_server.url("/b.xml")), encoding="utf-8"
    )
    config.write_text(
        config.read_text(encoding="utf-8").replace("feeds: []", "feeds: feeds.yaml"),
        encoding="utf-8",
    )
    return {
        "NEWSBOT_CONFIG": str(config),
        "NEWSBOT_DB": str(tmp_path / "state.db"),
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = newsbot(*args, env=env)
    return result.returncode, result.stdout + result.stderr


# --- run --once: exit codes and the summary ------------------------------------------------------


def test_all_delivered_exits_0(setup: dict[str, str], slack: SlackStub) -> None:
    code, out = run(setup, "run", "--once")
    assert code == 0, out
    assert "2 delivered, 0 parked, 0 failed, 0 waiting in the outbox" in out
    assert "posting alerts to Slack at" in out  # how it delivers, said at start
    assert len(slack.messages) == 2


def test_rejected_token_exits_3_and_says_why(setup: dict[str, str], slack: SlackStub) -> None:
    code, out = run({**setup, "SLACK_BOT_TOKEN": "xoxb-revoked"}, "run", "--once")
    assert code == 3, out
    assert "0 delivered, 0 parked, 0 failed, 2 waiting in the outbox" in out
    assert "2 alerts waiting for #frt-alerts (invalid_auth): Slack rejected the token" in out
    assert "exit 3: alerts left undelivered" in out
    assert slack.messages == []


def test_missing_channel_exits_3_counting_parked_alerts(
    setup: dict[str, str], slack: SlackStub
) -> None:
    slack.set_channel_error("#frt-alerts", "channel_not_found")
    code, out = run(setup, "run", "--once")
    assert code == 3, out
    assert "0 delivered, 2 parked, 0 failed, 0 waiting in the outbox" in out
    assert "2 alerts parked for #frt-alerts (channel_not_found): no such channel" in out
    slack.set_channel_error("#frt-alerts", None)  # the admin creates the channel
    code, out = run(setup, "run", "--once")
    assert code == 0, out  # parked alerts get another chance at the next run
    assert len(slack.messages) == 2


def test_slack_down_exits_3_and_the_alerts_wait(setup: dict[str, str], slack: SlackStub) -> None:
    slack.fail_next("chat.postMessage", status=503, times=10)
    code, out = run(setup, "run", "--once")
    assert code == 3, out
    assert "2 waiting in the outbox" in out
    assert "(http_503): Slack did not answer in time or failed: retried by itself" in out


def test_a_refused_alert_counts_as_failed(setup: dict[str, str], slack: SlackStub) -> None:
    slack.fail_next("chat.postMessage", error="invalid_arguments_for_test")
    code, out = run(setup, "run", "--once")
    assert code == 3, out
    assert "1 delivered, 0 parked, 1 failed, 0 waiting in the outbox" in out
    code, out = run(setup, "run", "--once")
    assert code == 0, out  # an alert refused in an earlier run does not fail every later run


def test_dry_run_says_would_post_never_delivered(setup: dict[str, str], slack: SlackStub) -> None:
    code, out = run({**setup, "NEWSBOT_LOG_LEVEL": "INFO"}, "run", "--once", "--dry-run")
    assert code == 0, out
    assert "2 would be posted (dry run: nothing sent or saved)" in out
    assert "would post alert" in out
    assert "delivered" not in out
    assert "dry run: alerts are printed here" in out
    assert slack.messages == []


def test_without_a_token_it_says_alerts_are_printed_here(setup: dict[str, str]) -> None:
    env = {key: value for key, value in setup.items() if key != "SLACK_BOT_TOKEN"}
    code, out = run(env, "run", "--once")
    assert code == 0, out
    assert "no SLACK_BOT_TOKEN: alerts are printed here" in out
    assert "Springfield council" in out


def test_every_feed_failing_gives_one_summary_line(setup: dict[str, str], tmp_path: Path) -> None:
    config = Path(setup["NEWSBOT_CONFIG"])
    (config.parent / "feeds.yaml").write_text(
        "".join(f"- url: http://feed{n}.newsbot-test.invalid/rss\n" for n in range(3)),
        encoding="utf-8",
    )
    code, out = run(setup, "run", "--once")
    assert code == 0, out  # no alert was left undelivered: there were none
    assert out.count("all 3 feeds failed: DNS; is there network?") == 1


# --- status and alerts ---------------------------------------------------------------------------


def test_status_after_a_rejected_token_says_why_since_when_and_the_fix(
    setup: dict[str, str], feed_server: FeedServer
) -> None:
    run({**setup, "SLACK_BOT_TOKEN": "xoxb-revoked"}, "run", "--once")
    code, out = run(setup, "status")
    assert code == 0, out
    assert "outbox: 2 waiting, 0 parked, 0 failed" in out
    assert re.search(
        r"2 alerts waiting for #frt-alerts since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ "
        r"\(invalid_auth\): Slack rejected the token: set a valid SLACK_BOT_TOKEN",
        out,
    ), out
    assert "Outlet A" in out
    assert "Outlet B" in out
    assert feed_server.url("/a.xml") not in out  # ...not by URL
    assert "Springfield council votes to ban" in out  # the last alerts, with headlines
    code, wide = run(setup, "status", "--wide")
    assert feed_server.url("/a.xml") in wide


def test_status_shortens_feed_errors_and_keeps_them_with_wide(
    setup: dict[str, str], feed_server: FeedServer
) -> None:
    feed_server.set_status("/b.xml", 500)
    run(setup, "run", "--once")
    _, out = run(setup, "status")
    line = next(line for line in out.splitlines() if line.startswith("Outlet B"))
    assert "failing" in line
    assert "HTTP 500" in line
    assert "fetch http" not in line


def test_alerts_lists_headline_channel_status_and_link(
    setup: dict[str, str], slack: SlackStub
) -> None:
    run(setup, "run", "--once")
    run(setup, "slack-test")  # learns the workspace URL, for links
    code, out = run(setup, "alerts")
    assert code == 0, out
    assert out.splitlines()[0].split() == [
        "QUEUED",
        "STATUS",
        "CHANNEL",
        "TOPIC",
        "HEADLINE",
        "SLACK",
    ]
    assert "Springfield council votes" in out
    assert "#frt-alerts" in out
    assert "sent" in out
    channel_id = slack.messages[0]["channel"]
    ts = slack.messages[0]["ts"].replace(".", "")
    assert f"https://stub.slack.test/archives/{channel_id}/p" in out
    assert any(ts in line for line in out.splitlines())
    code, out = run(setup, "alerts", "--json", "--since", "1h", "--topic", "frt-policy")
    items = [json.loads(line) for line in out.splitlines()]
    assert len(items) == 2
    assert {item["status"] for item in items} == {"sent"}
    assert all(item["link"].startswith("https://stub.slack.test/archives/") for item in items)
    _, out = run(setup, "alerts", "--topic", "no-such-topic")
    assert "no alerts in the last 24h" in out
    code, out = run(setup, "alerts", "--since", "soon")
    assert code == 2
    assert "not a duration" in out


# --- slack-test ----------------------------------------------------------------------------------


def test_slack_test_finds_a_missing_channel_and_a_missing_scope(
    setup: dict[str, str], slack: SlackStub
) -> None:
    topics = Path(setup["NEWSBOT_CONFIG"]).parent / "topics.yaml"
    topics.write_text(
        topics.read_text(encoding="utf-8").replace(
            'channels: ["#frt-alerts"]', 'channels: ["#frt-alerts", "#policy-desk"]'
        ),
        encoding="utf-8",
    )
    slack.auto_create = False
    slack.add_channel("frt-alerts")
    slack.scopes.discard("channels:history")
    code, out = run(setup, "slack-test")
    assert code == 1, out
    rows = {line.split("  ")[0].strip(): line for line in out.splitlines() if "  " in line}
    assert " ok " in rows["token (auth.test)"]
    assert " ok " in rows["scope chat:write"]
    assert "MISSING" in rows["scope channels:history"]
    assert "add it under OAuth & Permissions" in rows["scope channels:history"]
    assert " ok " in rows["scope channels:read"]
    assert "the bot is a member" in rows["channel #frt-alerts"]
    assert "FAIL" in rows["channel #policy-desk"]
    assert "channel_not_found" in rows["channel #policy-desk"]
    assert "2 problem(s) to fix." in out
    assert slack.messages == []  # no --post, nothing posted


def test_slack_test_post_sends_one_message_per_channel(
    setup: dict[str, str], slack: SlackStub
) -> None:
    slack.add_channel("frt-alerts")
    code, out = run(setup, "slack-test", "--post")
    assert code == 0, out
    assert "Slack set-up works." in out
    assert [m["channel_name"] for m in slack.messages] == ["frt-alerts"]
    assert "post to #frt-alerts" in out
    assert "test message posted" in out


def test_slack_test_reports_a_rejected_token(setup: dict[str, str]) -> None:
    code, out = run({**setup, "SLACK_BOT_TOKEN": "xoxb-revoked"}, "slack-test")
    assert code == 1, out
    assert "token (auth.test)" in out
    assert "invalid_auth" in out


def test_slack_test_without_a_token_exits_2(setup: dict[str, str]) -> None:
    env = {key: value for key, value in setup.items() if key != "SLACK_BOT_TOKEN"}
    code, out = run(env, "slack-test")
    assert code == 2, out
    assert "no SLACK_BOT_TOKEN" in out


# --- enable, --help ------------------------------------------------------------------------------


def test_enable_an_unknown_feed_exits_2_listing_the_known_ones(
    setup: dict[str, str], feed_server: FeedServer
) -> None:
    code, out = run(setup, "enable", "https://not-configured.example/rss")
    assert code == 2, out
    assert "is not a configured feed. Known feeds:" in out
    assert feed_server.url("/a.xml") in out
    assert "(Outlet A)" in out
    code, out = run(setup, "enable", "Outlet A")  # a name works too
    assert code == 0, out
    assert "is not disabled" in out


COMMANDS = [
    "run",
    "check",
    "status",
    "alerts",
    "slack-test",
    "enable",
    "match",
    "explain",
    "eval",
    "healthcheck",
]


def listed_commands() -> list[str]:
    """The commands `newsbot --help` lists (so a command added later is checked too)."""
    out = newsbot("--help", env={}).stdout
    return re.findall(r"^    (\S+) +\S", out, flags=re.MULTILINE)  # name and help: one line


def test_help_lists_every_command_and_the_environment() -> None:
    code, out = run({}, "--help")
    assert code == 0
    assert set(COMMANDS) <= set(listed_commands())
    for variable in ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_FILE", "NEWSBOT_DB", "NEWSBOT_CONFIG"):
        assert variable in out
    assert "3 run --once left alerts undelivered" in out


@pytest.mark.parametrize("command", sorted(set(COMMANDS) | set(listed_commands())))
def test_every_command_has_a_description_and_an_example(command: str) -> None:
    code, out = run({}, command, "--help")
    assert code == 0
    description = out.split("\n\n")[1]
    assert len(description) > 20, out
    assert "example:\n  " in out
    assert "newsbot" in out.split("example:")[1]
