"""Feeds: get stories in.

Contract: given a feed's URL and its last validators, return the new bytes (or "not modified", or a
FetchError that says why), and turn bytes into `Story` values. Only http(s) is fetched, with
deadlines and size caps; feedparser is handed bytes, never a URL or a path. Imports only
`bot.models`, `bot.errors` and libraries: nothing here knows about topics, Slack or the state.
"""
