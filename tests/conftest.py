"""Shared fixtures: the local feed server and the Slack Web API stand-in live in their own
modules."""

pytest_plugins = ["tests.feedserver", "tests.slackstub"]
