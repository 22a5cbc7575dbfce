"""Shared fixtures: the local feed server, the Slack Web API stand-in and the PostgreSQL server
live in their own modules; the Slack client pointed at the stand-in is here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from bot.slack.deliver import SlackSender

if TYPE_CHECKING:  # imported by pytest as a plugin (below), not before it
    from tests.slackstub import SlackStub

pytest_plugins = ["tests.feedserver", "tests.slackstub", "tests.pgserver"]


@pytest.fixture
def sender(slack: SlackStub) -> Iterator[SlackSender]:
    """The real sender (slack_sdk's WebClient) posting to the stand-in, with a short timeout
    (0.5 s) for the tests of late answers; closed after the test."""
    client = SlackSender(slack.token, slack.api_url, timeout=0.5)
    yield client
    client.close()
