"""Token buckets: the number's throughput and the pair limit per recipient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """At most `rate` sends in any one-second window, evenly paced. `acquire` waits for a token.

    Up to `capacity` tokens are saved for a burst, so the refill runs below `rate - capacity`
    per second: a full bucket plus one second of refill never exceeds `rate` (the platform
    meters sliding windows; a bucket refilled at the full rate lets a window reach
    rate + capacity and draws throttle answers).

    The platform counts sends when it reads them, not when we wrote them: when the requests
    before a window were held up and the ones in it were not, the window holds more than we
    sent in any second. The refill leaves room for `jitter` seconds of such bunching,
    `(rate - capacity) / (1 + jitter)`. Paced at exactly `rate - capacity`, sends to the
    emulator drew 130429 answers whenever the machine was busy (measured).

    After a throttle answer from the platform the rate is halved for `cooldown` seconds:
    the platform's limit is the truth, our configured rate only a belief."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        cooldown: float = 5.0,
        jitter: float = 0.02,
    ) -> None:
        self.limit = rate  # as configured; `nominal` is the pace that keeps under it
        self.capacity = capacity if capacity is not None else max(1.0, rate / 100)
        if rate > self.capacity:
            self.nominal = max(1.0, (rate - self.capacity) / (1 + jitter))
        else:
            self.nominal = rate
        self.rate = self.nominal
        self._tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._cooldown = cooldown
        self._slowed_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> float:
        now = self._clock()
        if self.rate < self.nominal and now >= self._slowed_until:
            self.rate = self.nominal
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        return now

    def try_take(self) -> float:
        """Take a token if one is there (returns 0), else the seconds until one will be."""
        self._refill()
        # A hair below 1 is float rounding of a refill that is due: without the margin a
        # caller sleeps for nothing, over and over.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    async def acquire(self) -> None:
        async with self._lock:
            # A computed wait, not polling: the bucket says exactly when the next token comes.
            while (wait := self.try_take()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(wait)

    def slow_down(self) -> None:
        now = self._refill()
        self.rate = max(1.0, self.rate / 2)
        self._tokens = 0.0
        self._slowed_until = now + self._cooldown


class PairLimiter:
    """Per recipient: bursts of `burst`, then one message every `interval` seconds, the way
    the platform meters a business talking to one person."""

    def __init__(
        self, burst: int = 10, interval: float = 6.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst = float(burst)
        self._interval = interval
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}

    def wait_for(self, recipient: str) -> float:
        """0 if a message may go to `recipient` now (and counts it), else seconds to wait."""
        now = self._clock()
        tokens, last = self._state.get(recipient, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) / self._interval)
        if tokens >= 1.0:
            self._state[recipient] = (tokens - 1.0, now)
            return 0.0
        self._state[recipient] = (tokens, now)
        return (1.0 - tokens) * self._interval

    def penalise(self, recipient: str) -> None:
        """The platform said 131056: this pair has no tokens left, whatever we believed."""
        self._state[recipient] = (0.0, self._clock())
