"""HTTP header values both I/O edges read (feeds in `feeds.fetch`, Slack in `slack.deliver`).

`parse_retry_after(value, now)`: RFC 9110 §10.2.3 Retry-After, delay-seconds or an HTTP-date, in
seconds to wait; None when absent or unreadable. `retry_after(headers)`: the same, looked up in a
header mapping whatever the name's case (slack_sdk gives lists of values).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delay-seconds or HTTP-date.

    None when absent or unreadable (fractions and negative numbers are not delay-seconds).
    A date in the past gives 0. `now` (timezone-aware) defaults to the current time.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 §5.6.7: HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_after(headers: Mapping[str, Any], now: datetime | None = None) -> float | None:
    """Retry-After from a header mapping (values may be lists), None if absent or unreadable."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            return parse_retry_after(raw if isinstance(raw, str) else str(raw), now)
    return None
