"""Per-org API budgets behind one seam: rolling windows that every worker of an org shares.

A CRM limits requests per org (a HubSpot portal, a Salesforce org), not per process. One
process pacing itself is enough while one process serves the org; once several Dramatiq
workers sync connections of the same org, each must see what the others spent, or together
they overrun a window that each one alone respects. ``RateLimiter`` is that seam:

* ``LocalLimiter`` keeps the windows in this process (the embedded, single-process mode);
* ``RedisLimiter`` keeps them in Redis, so every worker on every host spends one budget.

Both count a *sliding log* (every request's time, forgotten ``window`` seconds later), because
HubSpot's limits are rolling windows: a limiter that counts fixed buckets (Dramatiq's
``WindowRateLimiter`` counts whole seconds) lets a burst straddle a bucket edge, or must keep
a second of margin that costs a tenth of a ten-second window. The Redis limiter reads Redis's
own clock inside one script, so workers whose clocks disagree still agree on the window.

The process-wide limiter is chosen once at start (``use_limiter``): ``servefirst worker``
installs a ``RedisLimiter``, everything else keeps the default ``LocalLimiter``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from servefirst.playbook.errors import ConfigError


class RateLimiter(Protocol):
    """Takes a request's place in a rolling window of an org's budget, or says how long to wait."""

    def take(self, key: str, limit: int, window_seconds: float) -> float:
        """Take a place under ``key`` if fewer than ``limit`` were taken in ``window_seconds``.

        Returns 0.0 when the place is taken, else the seconds until one frees up (nothing is
        taken then: the caller waits and asks again, so a crashed caller holds no place).
        """
        ...


class LocalLimiter:
    """Sliding-log windows in this process; thread-safe (a worker runs several threads).

    Args:
        clock: monotonic seconds (injected by tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._logs: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: int, window_seconds: float) -> float:
        with self._lock:
            now = self.clock()
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - window_seconds:
                log.popleft()
            if len(log) < limit:
                log.append(now)
                return 0.0
            # The place frees when the entry that keeps the log at ``limit`` leaves the window.
            return max(0.0, log[len(log) - limit] + window_seconds - now)


class NoLimit:
    """Every place is free: for measuring calls against a sandbox that enforces no limit."""

    def take(self, key: str, limit: int, window_seconds: float) -> float:  # noqa: ARG002
        return 0.0


#: KEYS[1]: the window's sorted set; ARGV: limit, window in microseconds, a unique member.
#: Scores are Redis's clock in microseconds; returns 0 when taken, else microseconds to wait.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RedisLimiter:
    """Sliding-log windows in Redis, shared by every process that names the same keys.

    Args:
        client: a ``redis.Redis`` client.
        namespace: prefix of every key, so several deployments can share one Redis.
    """

    def __init__(self, client: Any, namespace: str = "servefirst") -> None:
        self.client = client
        self.namespace = namespace
        self._script = client.register_script(_TAKE)
        self._member = uuid.uuid4().hex
        self._count = 0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, namespace: str = "servefirst") -> RedisLimiter:
        """A limiter on the Redis at ``url`` (``redis://`` or ``rediss://``)."""
        try:
            import redis  # noqa: PLC0415 - only scaled-out deployments install it
        except ImportError:
            raise ConfigError(
                "the shared API budget needs Redis support: install servefirst[scale]"
            ) from None
        return cls(redis.Redis.from_url(url), namespace)

    def take(self, key: str, limit: int, window_seconds: float) -> float:
        with self._lock:
            self._count += 1
            member = f"{self._member}:{self._count}"
        waited = self._script(
            keys=[f"{self.namespace}:budget:{key}"],
            args=[limit, int(window_seconds * 1_000_000), member],
        )
        return int(waited) / 1_000_000


_process_limiter: RateLimiter = LocalLimiter()


def use_limiter(limiter: RateLimiter) -> None:
    """Make ``limiter`` the one every connector opened from now on in this process shares."""
    global _process_limiter  # noqa: PLW0603 - chosen once when a worker starts
    _process_limiter = limiter


def process_limiter() -> RateLimiter:
    """The limiter connectors of this process share (``LocalLimiter`` unless a worker set one)."""
    return _process_limiter


def wait_for(
    limiter: RateLimiter,
    key: str,
    limit: int,
    window_seconds: float,
    sleep: Callable[[float], None],
) -> float:
    """Take a place under ``key``, sleeping as long as the limiter says; returns the time slept."""
    slept = 0.0
    while True:
        wait = limiter.take(key, limit, window_seconds)
        if wait <= 0:
            return slept
        slept += wait
        sleep(wait)
