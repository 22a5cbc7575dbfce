"""Shared fixtures: the local feed server, the Slack Web API stand-in and the PostgreSQL server
live in their own modules."""

pytest_plugins = ["tests.feedserver", "tests.slackstub", "tests.pgserver"]
