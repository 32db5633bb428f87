"""Scripted and random faults, so tests can prove the connectors' retry and stop behaviour."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What an injected fault does to one request."""

    STATUS = "status"  # answer with an HTTP error status (e.g. 503) and the CRM's error body
    LIMIT = "limit"  # answer the CRM's rate/daily limit response (SF 403, HubSpot 429)
    RESET = "reset"  # the connection breaks mid-response
    LATENCY = "latency"  # answer normally, after a delay
    #: Carry the request out (a create lands), then break the connection before the reply
    #: (``applied_reset``) or answer an error status instead (``applied_status``): what a
    #: client sees when a write succeeded but its reply was lost.
    APPLIED_RESET = "applied_reset"
    APPLIED_STATUS = "applied_status"


@dataclass(frozen=True)
class Fault:
    """One fault to apply to the next matching request."""

    kind: FaultKind
    status: int = 503
    latency_ms: int = 0
    policy: str = ""  # CRM-specific flavour of LIMIT, e.g. "daily" or "ten_secondly"
    path_prefix: str = ""  # only requests whose path starts with this
    method: str = ""  # only requests with this HTTP method (any when empty)

    def matches(self, path: str, method: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in ("", method.upper())


class FaultInjector:
    """Thread-safe queue of scripted faults plus an optional seeded random fault rate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[tuple[Fault, int]] = []
        self._rate = 0.0
        self._random_kinds: tuple[Fault, ...] = ()
        self._rng = random.Random(0)  # noqa: S311 - reproducible fault schedule, not crypto
        #: Faults applied so far (scripted and random), so a test can report what it injected.
        self.fired = 0

    def inject(self, fault: Fault, count: int = 1) -> None:
        """The next ``count`` matching requests suffer ``fault``."""
        with self._lock:
            self._queue.append((fault, count))

    def set_random(self, rate: float, seed: int, kinds: tuple[Fault, ...]) -> None:
        """Each request independently suffers one of ``kinds`` with probability ``rate``."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self._rate = rate
            self._rng = random.Random(seed)  # noqa: S311
            self._random_kinds = kinds

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate = 0.0
            self._random_kinds = ()

    def take(self, path: str, method: str = "") -> Fault | None:
        """The fault for this request, if any, consuming it from the queue."""
        with self._lock:
            for index, (fault, remaining) in enumerate(self._queue):
                if fault.matches(path, method):
                    if remaining <= 1:
                        del self._queue[index]
                    else:
                        self._queue[index] = (fault, remaining - 1)
                    self.fired += 1
                    return fault
            if self._rate and self._random_kinds and self._rng.random() < self._rate:
                self.fired += 1
                return self._rng.choice(self._random_kinds)
        return None
