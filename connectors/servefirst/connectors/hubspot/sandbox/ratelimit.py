"""Rate limits by portal tier: the rolling ten-second window, the daily budget and search's
per-second limit, with HubSpot's ``X-HubSpot-RateLimit-*`` headers on every response.

Counting is always on, so the headers tell the truth; refusing (429) only when ``enabled``,
which a sandbox is by default, as a real portal is (tests and the demo that need no limits turn
it off explicitly). A refused request does not consume budget. The daily budget resets at
midnight UTC.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque

#: tier -> (requests per rolling 10 s, requests per day), for private apps.
TIERS: dict[str, tuple[int, int]] = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 650_000),
    "enterprise": (190, 1_000_000),
}
WINDOW_S = 10.0
SEARCH_PER_SECOND = 5


class RateLimiter:
    """Sliding windows of request times; thread-safe."""

    def __init__(self, tier: str = "professional", enabled: bool = False) -> None:
        self.lock = threading.Lock()
        self.enabled = enabled
        self.search_per_second = SEARCH_PER_SECOND
        self.set_tier(tier)
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.day = dt.datetime.now(dt.UTC).date()
        self.daily_used = 0
        #: 429s answered, by policy: what a benchmark reports as "429s received".
        self.refused: dict[str, int] = {}

    def set_tier(self, tier: str) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; use one of {sorted(TIERS)}")
        self.tier = tier
        self.per_window, self.daily = TIERS[tier]

    def _expire(self, now: float) -> None:
        while self.window and self.window[0] <= now - WINDOW_S:
            self.window.popleft()
        while self.search_window and self.search_window[0] <= now - 1.0:
            self.search_window.popleft()
        today = dt.datetime.now(dt.UTC).date()
        if today != self.day:
            self.day, self.daily_used = today, 0

    def take(self, search: bool) -> tuple[str | None, dict[str, str]]:
        """Counts one request: (policy refused or None, headers to send)."""
        with self.lock:
            now = time.monotonic()
            self._expire(now)
            policy = None
            if self.enabled:
                if self.daily_used >= self.daily:
                    policy = "daily"
                elif len(self.window) >= self.per_window:
                    policy = "ten_secondly"
                elif search and len(self.search_window) >= self.search_per_second:
                    policy = "secondly"
            if policy is not None:
                self.refused[policy] = self.refused.get(policy, 0) + 1
            else:
                self.window.append(now)
                self.daily_used += 1
                if search:
                    self.search_window.append(now)
            return policy, self._headers(search)

    def headers(self) -> dict[str, str]:
        with self.lock:
            self._expire(time.monotonic())
            return self._headers(False)

    def _headers(self, search: bool) -> dict[str, str]:
        secondly = self.search_per_second if search else max(1, self.per_window // 10)
        used_second = len(self.search_window) if search else _last_second(self.window)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily - self.daily_used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.per_window),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.per_window - len(self.window))),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - used_second)),
        }


def _last_second(window: deque[float]) -> int:
    cutoff = time.monotonic() - 1.0
    return sum(1 for t in reversed(window) if t > cutoff)
