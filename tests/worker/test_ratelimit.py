"""The number's token bucket: as fast as allowed, sends never exceed the rate in any
one-second window (the platform meters sliding windows, counting sends as it reads them,
so also when some arrive late) yet stay close to it; a throttle answer halves the rate for
the cooldown."""

from __future__ import annotations

import bisect
import random

import pytest

from threadline.worker.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(bucket: TokenBucket, clock: Clock, seconds: float) -> list[float]:
    """Take every token the moment it is there, for `seconds`; the send times."""
    sent: list[float] = []
    while clock.now < seconds:
        wait = bucket.try_take()
        if wait == 0:
            sent.append(clock.now)
        else:
            clock.now += wait
    return sent


def busiest_window(sent: list[float]) -> int:
    return max(bisect.bisect_left(sent, t + 1.0) - i for i, t in enumerate(sent))


@pytest.mark.parametrize("rate", [80, 250, 1000])
def test_no_one_second_window_exceeds_the_rate_and_the_rate_is_nearly_reached(rate: int) -> None:
    clock = Clock()
    sent = drain(TokenBucket(rate, clock=clock), clock, 10.0)
    assert busiest_window(sent) <= rate
    assert len(sent) >= 0.96 * rate * 10


@pytest.mark.parametrize("rate", [80, 1000])
def test_sends_that_reach_the_platform_up_to_20_ms_late_still_never_exceed_the_rate(
    rate: int,
) -> None:
    clock = Clock()
    sent = drain(TokenBucket(rate, clock=clock, jitter=0.02), clock, 10.0)
    rng = random.Random(3)
    # Random lateness, and the worst case: everything before some moment late by the
    # most, everything after it on time.
    scattered = sorted(t + rng.uniform(0.0, 0.02) for t in sent)
    for cut in (1.0, 4.5, 7.25):
        bunched = sorted(t + (0.02 if t < cut else 0.0) for t in sent)
        assert busiest_window(bunched) <= rate
    assert busiest_window(scattered) <= rate


def test_a_throttle_answer_halves_the_rate_for_the_cooldown() -> None:
    clock = Clock()
    bucket = TokenBucket(1000, clock=clock, cooldown=5.0)
    drain(bucket, clock, 1.0)
    bucket.slow_down()
    slowed = drain(bucket, clock, 6.0)  # the five seconds after the throttle
    assert 0.99 * 5 * bucket.nominal / 2 <= len(slowed) <= 5 * 500
    after = drain(bucket, clock, 8.0)
    assert len(after) >= 0.99 * 2 * bucket.nominal
    assert bucket.nominal >= 0.96 * 1000
