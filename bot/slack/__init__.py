"""Slack: the Web API edge.

Contract: `deliver` posts a formatted message with slack-sdk and turns every Slack failure into a
classified `DeliveryError`; `feedback` reads readers' reactions back; `slacktest` checks a token
and channels for the operator. Nothing outside this package imports slack_sdk.
"""
