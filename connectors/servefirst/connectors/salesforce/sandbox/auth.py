"""Access tokens and the daily API request budget (a rolling 24 hours).

Tokens look like Salesforce's (``<org id>!<random>``) and expire after the configured lifetime;
the pre-issued token written for ``method = "token"`` lives as long as the sandbox, unless a
test expires it through the admin API to exercise re-authentication.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from servefirst.connectors.salesforce.sandbox.errors import SfError

DEFAULT_DAILY_LIMIT = 5_000_000


@dataclass
class _Token:
    user_id: str
    expires_at: float | None


class TokenRegistry:
    """Issued access tokens and who they belong to."""

    def __init__(self, org_id: str, ttl_seconds: int) -> None:
        self.org_id = org_id
        self.ttl_seconds = ttl_seconds
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def issue(self, user_id: str, *, lifetime: bool = False) -> str:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        expires = None if lifetime else time.monotonic() + self.ttl_seconds
        with self._lock:
            self._tokens[token] = _Token(user_id, expires)
        return token

    def user(self, token: str) -> str | None:
        """The user a live token belongs to, or ``None`` for unknown or expired tokens."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            return None
        if entry.expires_at is not None and time.monotonic() >= entry.expires_at:
            return None
        return entry.user_id

    def expire(self, token: str | None = None) -> int:
        """Expire one token, or all of them; returns how many were expired."""
        with self._lock:
            doomed = [token] if token is not None else list(self._tokens)
            count = 0
            for key in doomed:
                if key in self._tokens:
                    self._tokens[key].expires_at = 0.0
                    count += 1
            return count


class ApiBudget:
    """The org's daily API request allowance over a rolling 24 hours, reported on every response.

    Requests are counted in one-minute buckets, so usage falls as requests age past 24 hours
    (as Salesforce's rolling window does) without keeping a timestamp per request.
    """

    WINDOW_MINUTES = 24 * 60

    def __init__(self, limit: int | None, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit or DEFAULT_DAILY_LIMIT
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [minute, count], oldest first
        self._total = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        with self._lock:
            self._expire()
            return self._total

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def _expire(self) -> None:
        oldest = self._minute() - self.WINDOW_MINUTES
        while self._buckets and self._buckets[0][0] <= oldest:
            self._total -= self._buckets.popleft()[1]

    def _add(self, count: int) -> None:
        self._total += count
        minute = self._minute()
        if self._buckets and self._buckets[-1][0] == minute:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([minute, count])

    def charge(self) -> None:
        """Count one API request, or refuse it with 403 REQUEST_LIMIT_EXCEEDED when spent."""
        with self._lock:
            self._expire()
            if self._total >= self.limit:
                raise SfError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self._add(1)

    def set(self, *, limit: int | None = None, used: int | None = None) -> None:
        """Admin: change the limit, or pretend ``used`` requests were made in the last minute."""
        with self._lock:
            if limit is not None:
                self.limit = limit
            if used is not None:
                self._buckets.clear()
                self._total = 0
                self._add(used)

    def header(self) -> str:
        return f"api-usage={self.used}/{self.limit}"
