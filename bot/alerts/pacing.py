"""Per-channel send pacing: a token bucket per Slack channel, pure and driven by an injected clock.

Contract: `wait_time(channel, now)` says how many seconds to wait before the next post to `channel`
may go out (0.0 when it may go now); `record(channel, now)` says a post went out. `defer(channel,
until)` holds a channel back after Slack answered 429 with Retry-After. Nothing here sleeps or
reads a clock: the caller passes `now` (any monotonic seconds), so tests use a fake clock.

Why these numbers: Slack allows chat.postMessage "1 message per second per channel, with short
bursts above that allowed" (https://api.slack.com/docs/rate-limits#rate-limits__limits-when-posting-messages).
So the default sustained rate is 1/s with a burst of 3: a backlog of 200 alerts drains in order
at about one a second instead of tripping 429s.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RATE = 1.0  # messages per second per channel, sustained (Slack: about 1/s per channel)
DEFAULT_BURST = 3  # messages that may go back to back after a quiet spell


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    blocked_until: float = 0.0


class ChannelPacer:
    """A token bucket per channel: `rate` tokens a second, holding at most `burst`."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"pacing: rate must be > 0 and burst >= 1, got {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def wait_time(self, channel: str, now: float) -> float:
        """Seconds to wait before posting to `channel`; 0.0 when a post may go now."""
        bucket = self._refilled(channel, now)
        blocked = max(0.0, bucket.blocked_until - now)
        missing = max(0.0, 1.0 - bucket.tokens)
        return max(blocked, missing / self.rate)

    def record(self, channel: str, now: float) -> None:
        """A post to `channel` went out at `now`: spend one token (it may go below zero)."""
        bucket = self._refilled(channel, now)
        bucket.tokens -= 1.0

    def defer(self, channel: str, until: float) -> None:
        """Slack said 429 with Retry-After: no post to `channel` before `until`."""
        bucket = self._buckets.setdefault(channel, _Bucket(float(self.burst), until))
        bucket.blocked_until = max(bucket.blocked_until, until)

    def _refilled(self, channel: str, now: float) -> _Bucket:
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)  # a clock that steps back never adds tokens
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
        bucket.updated = max(bucket.updated, now)
        return bucket
