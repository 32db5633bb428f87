"""A gate that holds one chosen request, so a test can change the CRM in the middle of a pull.

A sync reads a CRM in several requests (pages, then the records around each page). What a rep
does between two of them is where incremental syncs lose edits, and no test can time a rep's
edit into that gap from outside. Armed with "hold the Nth request whose path starts with P",
the sandbox parks that request (the event loop keeps serving everyone else, so the test's own
client can edit the CRM meanwhile) until the test releases it or the hold times out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

#: Polling step of a held request; short, so a release is seen almost at once.
_STEP_SECONDS = 0.005


@dataclass
class _Arming:
    after: int
    path_prefix: str
    timeout_seconds: float
    seen: int = 0


class RequestGate:
    """Holds the ``after``-th matching request until ``release`` (or its timeout)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arming: _Arming | None = None
        self._holding = False
        self._released = threading.Event()

    def arm(self, after: int, path_prefix: str = "", timeout_seconds: float = 10.0) -> None:
        """Hold the ``after``-th request (1 = the next one) whose path starts with the prefix."""
        if after < 1:
            raise ValueError("after must be at least 1")
        if not 0 < timeout_seconds <= 120:
            raise ValueError("timeout_seconds must be between 0 and 120")
        with self._lock:
            self._arming = _Arming(after, path_prefix, timeout_seconds)
            self._released.clear()

    def release(self) -> None:
        """Let a held request go on, and disarm: nothing further is held."""
        with self._lock:
            self._arming = None
            self._released.set()

    def status(self) -> dict[str, Any]:
        """``holding``: a request is parked now; ``armed``: the gate still waits for its turn."""
        with self._lock:
            armed = self._arming is not None and not self._holding
            seen = self._arming.seen if self._arming is not None else 0
            return {"holding": self._holding, "armed": armed, "seen": seen}

    async def passage(self, path: str) -> None:
        """Called for every counted request before it is served; returns when it may go on."""
        with self._lock:
            arming = self._arming
            if arming is None or self._holding or not path.startswith(arming.path_prefix):
                return
            arming.seen += 1
            if arming.seen < arming.after:
                return
            self._holding = True
        deadline = time.monotonic() + arming.timeout_seconds
        try:
            while not self._released.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(_STEP_SECONDS)
        finally:
            with self._lock:
                self._holding = False
                self._arming = None
