"""Request counters per endpoint and method: the ground truth the benchmarks report."""

from __future__ import annotations

import threading
from collections import Counter


class RequestCounter:
    """Counts requests by ``"METHOD endpoint"``; thread-safe, cheap enough for every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, method: str, endpoint: str) -> None:
        with self._lock:
            self._counts[f"{method} {endpoint}"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
