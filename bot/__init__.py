"""newsbot: polls news feeds, finds the stories a team cares about, posts one Slack alert per
story."""

__version__ = "0.1.0"
