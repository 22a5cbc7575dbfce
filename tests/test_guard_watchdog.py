"""The fetch watchdog (bot/feeds/guard.py) ends each exchange at its own deadline, though it is
woken only when an exchange brings a deadline sooner than the one it already waits for."""

from __future__ import annotations

import threading
import time

from bot.feeds.guard import AddressPolicy, Guard


def test_a_sooner_deadline_opened_after_a_later_one_still_ends_on_time() -> None:
    guard = Guard(AddressPolicy())
    long_open, release_long = threading.Event(), threading.Event()

    def long_exchange() -> None:
        with guard.exchange(time.monotonic() + 60):
            long_open.set()
            release_long.wait(10)

    holder = threading.Thread(target=long_exchange)
    holder.start()
    try:
        assert long_open.wait(5)  # the watchdog now sleeps towards a deadline a minute away
        started = time.monotonic()
        with guard.exchange(started + 0.3) as short:
            while not short.expired and time.monotonic() - started < 10:
                time.sleep(0.01)
            assert short.expired
            assert not short.cancelled
        assert time.monotonic() - started < 5  # not the minute the watchdog was waiting for
    finally:
        release_long.set()
        holder.join(10)


def test_exchanges_that_end_before_their_deadline_leave_the_next_ones_guarded() -> None:
    """Closing an exchange does not wake the watchdog: it finds the exchange gone when it wakes,
    and still ends a later exchange at that one's deadline."""
    guard = Guard(AddressPolicy())
    for _ in range(20):  # quick exchanges, each closed long before its deadline
        with guard.exchange(time.monotonic() + 0.2) as quick:
            pass
        assert not quick.expired
    started = time.monotonic()
    with guard.exchange(started + 0.5) as slow:
        while not slow.expired and time.monotonic() - started < 10:
            time.sleep(0.01)
    assert slow.expired
    assert 0.4 < time.monotonic() - started < 5
