"""The Slack token never shows: not in logs (even at DEBUG, even when everything fails), not in
errors, not in reprs; and it can come from a file (container secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import from_env
from tests.feedserver import FeedServer
from tests.helpers import Item, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

SECRET = "xoxb-000000000-SECRET-should-never-be-printed"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_failing_run_never_prints_the_token(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub, log_format: str
) -> None:
    feed_server.set_feed("/a.xml", rss([Item("a", "City bans facial recognition", "A ban.")]))
    feed_server.set_status("/down.xml", 500)
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(
        tmp_path,
        [
            feed_server.url("/a.xml"),
            feed_server.url("/down.xml"),
            "http://unreachable.newsbot-test.invalid/rss",
        ],
    )
    env = {
        "NEWSBOT_DB": str(tmp_path / "s.db"),
        "SLACK_BOT_TOKEN": SECRET,  # stub rejects it
        "SLACK_API_URL": slack.api_url,
        "NEWSBOT_LOG_LEVEL": "DEBUG",
        "NEWSBOT_LOG_FORMAT": log_format,
    }
    result = newsbot("run", "--once", "--config", str(config), "--feeds", str(feeds), env=env)
    assert result.returncode == 3, result.stderr  # the alert is left undelivered
    output = result.stdout + result.stderr
    assert "invalid_auth" in output  # the failure is reported...
    assert SECRET not in output  # ...without the secret
    assert "SECRET" not in output


def test_token_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    settings = from_env({"SLACK_BOT_TOKEN_FILE": str(secret)})
    assert settings.slack_token == SECRET
    assert SECRET not in repr(settings)


def test_an_unreadable_token_file_names_the_file_not_the_contents(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})
    assert "SLACK_BOT_TOKEN_FILE" in str(caught.value)
