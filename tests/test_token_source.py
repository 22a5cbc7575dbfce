"""Where the Slack token comes from, and what a broken source does (issue 11 #3, #6).

A configured token source that is empty, unreadable, undecodable or holds a token broken by
whitespace is refused at start with exit 2 and a message naming the source, never its contents.
Before these rules an inner newline printed the token (slack_sdk's error log and an uncaught
`ValueError: Invalid header value`), and an empty file meant "no token": alerts were printed to
the terminal and marked sent, so they never reached Slack.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.logs import RedactFilter, secret_renderings
from bot.settings import from_env
from tests.feedserver import FeedServer
from tests.helpers import Item, newsbot, rss, write_config, write_feed_list
from tests.slackstub import SlackStub

HEAD = "xoxb-1111-HEADSECRETPART"
TAIL = "2222-TAILSECRETPART"


def _run_once(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub, token_file: Path, *args: str
) -> tuple[int, str]:
    feed_server.set_feed("/a.xml", rss([Item("a", "City bans facial recognition", "A ban.")]))
    config = write_config(tmp_path / "config")
    feeds = write_feed_list(tmp_path, [feed_server.url("/a.xml")])
    env = {
        "NEWSBOT_DB": str(tmp_path / "state.db"),
        "SLACK_BOT_TOKEN_FILE": str(token_file),
        "SLACK_API_URL": slack.api_url,
        "NEWSBOT_LOG_LEVEL": "DEBUG",
    }
    result = newsbot(*args, "--config", str(config), "--feeds", str(feeds), env=env)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{HEAD}\n{TAIL}\n", id="inner-newline"),
        pytest.param(f"{HEAD} {TAIL}", id="inner-space"),
        pytest.param(f"{HEAD}\t{TAIL}", id="inner-tab"),
        pytest.param(f"{HEAD}\x00{TAIL}", id="inner-nul"),
    ],
)
def test_token_file_with_an_inner_newline_is_refused_without_echoing_it(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub, body: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(body, encoding="utf-8")
    code, output = _run_once(tmp_path, feed_server, slack, token_file, "run", "--once")
    assert code == 2, output
    assert "SLACK_BOT_TOKEN_FILE" in output
    assert "whitespace or a control character" in output
    assert "HEADSECRET" not in output
    assert "TAILSECRET" not in output
    assert "Traceback" not in output
    assert slack.messages == []


def test_a_token_with_a_trailing_newline_still_works(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(slack.token + "\r\n", encoding="utf-8")
    code, output = _run_once(tmp_path, feed_server, slack, token_file, "run", "--once")
    assert code == 0, output
    assert len(slack.messages) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param(b"", "the token file is empty", id="empty"),
        pytest.param(b"  \n\n", "the token file is empty", id="blank"),
        pytest.param(b"\xff\xfexoxb-\x80\x81", "not UTF-8 text", id="undecodable"),
    ],
)
def test_an_empty_token_file_is_an_error_not_terminal_output(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub, body: bytes, problem: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(body)
    code, output = _run_once(tmp_path, feed_server, slack, token_file, "run", "--once")
    assert code == 2, output
    assert problem in output
    assert "SLACK_BOT_TOKEN_FILE" in output
    assert "Traceback" not in output
    assert "City bans facial recognition" not in output  # nothing printed as if there were no token
    # Nothing was marked sent: with a good token the alert still goes to Slack.
    token_file.write_text(slack.token, encoding="utf-8")
    code, output = _run_once(tmp_path, feed_server, slack, token_file, "run", "--once")
    assert code == 0, output
    assert len(slack.messages) == 1


def test_the_service_refuses_an_empty_token_file_too(
    tmp_path: Path, feed_server: FeedServer, slack: SlackStub
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("", encoding="utf-8")
    config = write_config(tmp_path / "config")
    result = newsbot(
        "run",
        "--config",
        str(config),
        env={"NEWSBOT_DB": str(tmp_path / "state.db"), "SLACK_BOT_TOKEN_FILE": str(token_file)},
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "the token file is empty" in result.stderr


def test_a_token_file_that_is_a_directory_is_exit_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({"SLACK_BOT_TOKEN_FILE": str(tmp_path)})
    assert "SLACK_BOT_TOKEN_FILE" in caught.value.render()


def test_an_env_token_with_inner_whitespace_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        from_env({"SLACK_BOT_TOKEN": f"{HEAD}\n{TAIL}"})
    text = caught.value.render()
    assert "SLACK_BOT_TOKEN" in text
    assert "HEADSECRET" not in text
    assert "TAILSECRET" not in text


def test_an_unset_or_empty_env_token_still_means_print_to_the_terminal() -> None:
    assert from_env({}).slack_token is None
    assert from_env({"SLACK_BOT_TOKEN": ""}).slack_token is None  # compose's `${VAR}` when unset


@pytest.mark.parametrize(
    "rendering",
    [
        pytest.param(lambda t: t, id="plain"),
        pytest.param(lambda t: repr(t), id="repr"),
        pytest.param(lambda t: repr(t.encode()), id="bytes-repr"),
        pytest.param(lambda t: t.replace("-", "%2D"), id="percent-encoded"),
        pytest.param(lambda t: '{"token": "' + t + '"}', id="json"),
        pytest.param(lambda t: "Bearer " + t.upper(), id="upper-case"),
    ],
)
def test_redaction_matches_any_rendering_of_the_token(rendering: object) -> None:
    token = "xoxb-1234-5678-AbCdEfSecret"
    text = rendering(token)  # type: ignore[operator]
    scrubbed = RedactFilter([token])._scrub(f"slack said: {text}")
    assert "AbCdEf" not in scrubbed.replace("ABCDEF", "AbCdEf")
    assert "5678" not in scrubbed


def test_secret_renderings_include_the_pieces_of_a_broken_token() -> None:
    pieces = secret_renderings(f"{HEAD}\n{TAIL}")
    assert HEAD in pieces
    assert TAIL in pieces
    record = logging.LogRecord("x", logging.ERROR, "", 0, "header %s", (f"{HEAD}\\n{TAIL}",), None)
    RedactFilter([f"{HEAD}\n{TAIL}"]).filter(record)
    assert "SECRETPART" not in record.getMessage()
