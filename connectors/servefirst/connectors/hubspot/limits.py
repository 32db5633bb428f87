"""HubSpot's rate limits, read from its response headers, and the pacing that respects them.

HubSpot enforces three budgets per portal, shared by every app installed in it:

* a rolling ten-second window (``X-HubSpot-RateLimit-Max`` / ``-Remaining`` /
  ``-Interval-Milliseconds``),
* a daily budget (``-Daily`` / ``-Daily-Remaining``),
* the search API's own per-second limit (5 requests/s; search replies carry no headers for it).

Reacting to 429s alone would let a sync burn the portal's window and starve the customer's
other integrations, so the connector paces *before* each call: it slows down when the window is
nearly spent, keeps its searches under the per-second limit, and stops the run (with
``BudgetExhaustedError``) once the portal's remaining daily budget falls to the part servefirst
must leave for everyone else (``1 - api_budget_share``). The pacer is pure bookkeeping with an
injected clock and sleep, so it is unit-tested without waiting.

The window and the search limit belong to the portal, not to this process: their rolling
windows live in a ``budget.RateLimiter`` under the portal's key, so that the workers syncing
connections of one portal spend one budget between them (Redis when scaled out). The daily
budget needs no sharing: HubSpot's headers report the whole portal's remaining calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from servefirst.config.settings import HubSpotConnection
from servefirst.connectors.budget import LocalLimiter, RateLimiter, wait_for
from servefirst.playbook.errors import BudgetExhaustedError

#: Searches per second HubSpot allows per portal (documented; search replies have no header).
SEARCH_PER_SECOND = 5
#: HubSpot counts a search when it arrives, a little after we sent it: our second is longer.
SEARCH_WINDOW_SECONDS = 1.1
#: Requests of the ten-second window we leave unused for the portal's other integrations.
WINDOW_RESERVE_SHARE = 0.05
DEFAULT_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class RateHeaders:
    """The ``X-HubSpot-RateLimit-*`` values of one response (``None`` where absent)."""

    window_max: int | None = None
    window_remaining: int | None = None
    interval_seconds: float | None = None
    daily: int | None = None
    daily_remaining: int | None = None
    retry_after: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str] | None) -> RateHeaders:
        """Read the rate-limit headers, case-insensitively; malformed values count as absent."""
        if not headers:
            return cls()
        lower = {str(k).lower(): str(v) for k, v in headers.items()}

        def number(name: str) -> float | None:
            raw = lower.get(name)
            try:
                return float(raw) if raw is not None else None
            except ValueError:
                return None

        def integer(name: str) -> int | None:
            value = number(name)
            return int(value) if value is not None else None

        interval_ms = number("x-hubspot-ratelimit-interval-milliseconds")
        return cls(
            window_max=integer("x-hubspot-ratelimit-max"),
            window_remaining=integer("x-hubspot-ratelimit-remaining"),
            interval_seconds=interval_ms / 1000 if interval_ms is not None else None,
            daily=integer("x-hubspot-ratelimit-daily"),
            daily_remaining=integer("x-hubspot-ratelimit-daily-remaining"),
            retry_after=number("retry-after"),
        )


@dataclass(frozen=True)
class LimitVerdict:
    """What a 429 means: stop the run (daily budget) or wait ``wait_seconds`` and retry."""

    daily: bool
    wait_seconds: float
    policy: str


def classify_429(body: str | None, headers: RateHeaders) -> LimitVerdict:
    """Tell a daily-budget 429 (stop now) from a window or search 429 (wait, then retry).

    HubSpot names the policy in the body (``policyName``: ``DAILY``, ``TEN_SECONDLY_ROLLING``,
    ``SECONDLY``). The wait is ``Retry-After`` when sent (undocumented but honoured), else the
    window's interval from the headers: a rolling window is certainly clear after one interval.
    """
    policy = ""
    try:
        parsed = json.loads(body) if body else {}
        if isinstance(parsed, dict):
            policy = str(parsed.get("policyName") or "")
            if not policy and "daily" in str(parsed.get("message", "")).lower():
                policy = "DAILY"
    except ValueError:
        policy = ""
    policy = policy.upper()
    if policy == "DAILY":
        return LimitVerdict(daily=True, wait_seconds=0.0, policy=policy)
    if headers.retry_after is not None:
        wait = headers.retry_after
    elif policy == "SECONDLY":
        wait = 1.0
    else:
        wait = headers.interval_seconds or DEFAULT_INTERVAL_SECONDS
    return LimitVerdict(daily=False, wait_seconds=max(wait, 0.0), policy=policy or "UNKNOWN")


class Pacer:
    """Waits before a call when a budget is nearly spent; raises when the daily share is used.

    Args:
        budget_share: the share of the portal's daily budget servefirst may consume; the run
            stops when the portal's remaining budget falls to ``(1 - share) * daily``.
        clock: monotonic seconds (injected for tests).
        sleep: how to wait (injected for tests).
        search_per_second: the search API's per-second limit.
        limiter: where the portal's rolling windows are kept (default: this pacer's own).
        key: the portal's key in ``limiter`` (its portal id): pacers of one portal share it.

    Thread-safe: a pull reads its next search page while it reads the current page's
    surroundings. A search first waits for its place under the search limit on its own (the
    other thread's batch reads go on meanwhile); then callers take their turn at the ten-second
    window one at a time (a turn may wait, so two threads never both see the same free place),
    while replies are observed at once, even during a wait.
    """

    def __init__(
        self,
        budget_share: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        search_per_second: int = SEARCH_PER_SECOND,
        limiter: RateLimiter | None = None,
        key: str = "portal",
    ) -> None:
        self.budget_share = budget_share
        self.clock = clock
        self.sleep = sleep
        self.search_per_second = search_per_second
        self.limiter = limiter if limiter is not None else LocalLimiter(clock)
        self.key = key
        self._calls: deque[float] = deque()
        self._last = RateHeaders()
        self._seen_at = float("-inf")
        self._budget_message: str | None = None
        self.waited_seconds = 0.0
        #: The portal's daily budget and what is left of it, as the last reply reported them.
        self.daily: tuple[int, int] | None = None
        self._turn = threading.Lock()  # one caller at a time decides (and waits) to go
        self._state = threading.Lock()  # the log of our calls and the last reply's headers

    def before(self, *, search: bool) -> None:
        """Call just before each request: raises when out of budget, otherwise waits if needed."""
        if self._budget_message is not None:
            raise BudgetExhaustedError(self._budget_message)
        search_key = f"{self.key}:search"
        if search:  # waited for outside the turn: other calls may go meanwhile
            self._shared(search_key, self.search_per_second, SEARCH_WINDOW_SECONDS)
        with self._turn:
            waited = self._wait(self._window_wait())
            with self._state:
                last = self._last
            if last.window_max is not None:
                reserve = max(1, int(last.window_max * WINDOW_RESERVE_SHARE))
                interval = last.interval_seconds or DEFAULT_INTERVAL_SECONDS
                window_max = max(1, last.window_max - reserve)
                waited += self._shared(f"{self.key}:window", window_max, interval)
            if search and waited > 0:
                # The search's place dates from before that wait, and HubSpot counts the
                # search when it arrives: take a place that dates from now.
                self._shared(search_key, self.search_per_second, SEARCH_WINDOW_SECONDS)
            with self._state:
                self._calls.append(self.clock())

    def observe(self, headers: RateHeaders) -> None:
        """Record the budgets a response reported (call it as the response arrives)."""
        if headers.window_remaining is not None:
            with self._state:
                self._last = headers
                self._seen_at = self.clock()
        if headers.daily and headers.daily_remaining is not None:
            self.daily = (headers.daily, headers.daily_remaining)
            floor = headers.daily * (1 - self.budget_share)
            if headers.daily_remaining <= floor:
                self._budget_message = (
                    f"servefirst's share of the portal's daily API budget is spent "
                    f"({headers.daily_remaining} of {headers.daily} calls left; "
                    f"api_budget_share = {self.budget_share:g}); the run resumes from its "
                    "checkpoint tomorrow, or raise api_budget_share"
                )

    def _window_wait(self) -> float:
        """Seconds until the rolling window frees enough calls to keep the reserve unused."""
        with self._state:
            last, seen_at = self._last, self._seen_at
            if last.window_remaining is None or last.window_max is None:
                return 0.0
            interval = last.interval_seconds or DEFAULT_INTERVAL_SECONDS
            now = self.clock()
            self._expire(self._calls, now, interval)
            ours = list(self._calls)
        reserve = max(1, int(last.window_max * WINDOW_RESERVE_SHARE))
        if now - seen_at >= interval:
            return 0.0  # a whole window has passed since that reply: its count is stale
        # Calls we made after the reply that reported ``remaining`` also used the window.
        made_since = sum(1 for t in ours if t > seen_at)
        remaining = last.window_remaining - made_since
        if remaining > reserve:
            return 0.0
        need = reserve + 1 - remaining
        if len(ours) >= need:
            return max(0.0, ours[need - 1] + interval - now)
        return interval

    def _shared(self, key: str, limit: int, window_seconds: float) -> float:
        """Take a place in one of the portal's shared windows, waiting for it if needed."""
        waited = wait_for(self.limiter, key, limit, window_seconds, self.sleep)
        with self._state:
            self.waited_seconds += waited
        return waited

    def _wait(self, seconds: float) -> float:
        if seconds > 0:
            with self._state:
                self.waited_seconds += seconds
            self.sleep(seconds)
        return max(seconds, 0.0)

    @staticmethod
    def _expire(stamps: deque[float], now: float, interval: float) -> None:
        while stamps and stamps[0] <= now - interval:
            stamps.popleft()


def budget_key(name: str, settings: HubSpotConnection) -> str:
    """The portal's key in the shared API budget: connections of one portal spend one budget.

    HubSpot's replies do not name the portal, so the key is the configured ``portal_id``;
    without one, the connection's name and host (set ``portal_id`` when several connections
    read the same portal, or they pace as if each had the portal to itself).
    """
    if settings.portal_id is not None:
        return f"hubspot:{settings.portal_id}"
    return f"hubspot:{settings.base_url.rstrip('/')}:{name}"
