"""pacing.py with a fake clock: bursts, the sustained rate, per-channel independence, 429 defer."""

from __future__ import annotations

import pytest

from bot.alerts.pacing import ChannelPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def drain(pacer: ChannelPacer, clock: FakeClock, channel: str, count: int) -> list[float]:
    """Send `count` posts as fast as the pacer allows; return when each went out."""
    sent = []
    for _ in range(count):
        clock.sleep(pacer.wait_time(channel, clock.now))
        assert pacer.wait_time(channel, clock.now) == 0.0
        pacer.record(channel, clock.now)
        sent.append(clock.now)
    return sent


@pytest.mark.parametrize(
    ("rate", "burst", "count", "expected_span"),
    [
        pytest.param(1.0, 3, 3, 0.0, id="burst-goes-at-once"),
        pytest.param(1.0, 3, 4, 1.0, id="fourth-waits-a-second"),
        pytest.param(1.0, 3, 200, 197.0, id="200-alerts-at-one-a-second"),
        pytest.param(2.0, 1, 5, 2.0, id="two-a-second-no-burst"),
    ],
)
def test_sustained_rate_after_a_burst(
    rate: float, burst: int, count: int, expected_span: float
) -> None:
    clock, pacer = FakeClock(), ChannelPacer(rate, burst)
    sent = drain(pacer, clock, "#c", count)
    assert sent[-1] - sent[0] == pytest.approx(expected_span)
    assert sent == sorted(sent)


def test_never_more_than_rate_times_window_plus_burst() -> None:
    clock, pacer = FakeClock(), ChannelPacer(1.0, 3)
    sent = drain(pacer, clock, "#c", 100)
    for start in sent:
        in_window = [t for t in sent if start <= t < start + 10]
        assert len(in_window) <= 10 + 3


def test_channels_are_independent() -> None:
    clock, pacer = FakeClock(), ChannelPacer(1.0, 1)
    pacer.record("#a", clock.now)
    assert pacer.wait_time("#a", clock.now) == pytest.approx(1.0)
    assert pacer.wait_time("#b", clock.now) == 0.0


def test_quiet_spell_refills_the_burst_but_no_more() -> None:
    clock, pacer = FakeClock(), ChannelPacer(1.0, 3)
    drain(pacer, clock, "#c", 3)
    clock.sleep(3600)
    sent = drain(pacer, clock, "#c", 4)
    assert [t - sent[0] for t in sent] == pytest.approx([0.0, 0.0, 0.0, 1.0])


def test_defer_holds_a_channel_for_retry_after() -> None:
    clock, pacer = FakeClock(), ChannelPacer(1.0, 3)
    pacer.defer("#c", clock.now + 30)
    assert pacer.wait_time("#c", clock.now) == pytest.approx(30.0)
    assert pacer.wait_time("#other", clock.now) == 0.0
    clock.sleep(30)
    assert pacer.wait_time("#c", clock.now) == 0.0


def test_a_clock_stepping_back_adds_no_tokens() -> None:
    clock, pacer = FakeClock(), ChannelPacer(1.0, 1)
    pacer.record("#c", clock.now)
    assert pacer.wait_time("#c", clock.now - 100) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [pytest.param(0.0, 3, id="zero-rate"), pytest.param(1.0, 0, id="zero-burst")],
)
def test_rejects_nonsense_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="pacing"):
        ChannelPacer(rate, burst)
