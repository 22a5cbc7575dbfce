"""Alerts: what readers get, and in what order.

Contract: from matched stories to `Alert`/`Post` values (first-poll admission, digests and
round-ups), their Slack text (`format`, `summarize`), and the outbox that hands queued alerts to a
`Sender` exactly once and in order per channel (`outbox`, `pacing`). Reads and writes the state
only through the store's methods; talks to Slack only through the `Sender` protocol.
"""
