"""One retry policy for every connector: what is retried, how long to wait, and creates.

Each connector translates its CRM's failures into servefirst's error tree first (see
``network.failure`` and each connector's ``translate``); the policy then decides by class only:

* ``RetryableError`` (429, 5xx, reset, timeout): retried up to ``max_retries`` times, after
  the error's ``retry_after`` when the CRM said how long (a ``Retry-After`` header, HubSpot's
  rate-limit interval), else after an exponential backoff with jitter, so that several workers
  refused at once do not come back in lockstep.
* ``RefusedConnectionError``: retried ``refused_retries`` times within a second or two (a CRM
  restarting behind its load balancer), then reported: half a minute of backoff would only
  delay a message naming the host and port.
* Everything else (certificates, TLS, DNS, authentication, a spent budget, a bad request):
  never retried; the error already says what to fix.

**Creates are not idempotent.** After an ambiguous failure (the request may have been carried
out: a 5xx, a reset, a read timeout) a create is never simply sent again. The caller gives a
``lookup`` that searches for the record by its natural key (a task key, a property name, a
pipeline label...); the policy runs it before each new attempt, and returns what it finds.
Without a lookup, an ambiguous failure of a create is raised at once for the caller to check.
A failure the CRM answered before doing anything (a rate limit, a connect timeout, a refused
connection) is retried as for any request.

**Limiters plug in.** A ``Limiter`` is asked before every attempt (pacing, a shared budget)
and does the waiting, so a per-org limiter shared by several workers, or a test's fake clock,
sees every attempt and every backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from servefirst.playbook.errors import RefusedConnectionError, RetryableError

log = logging.getLogger(__name__)
T = TypeVar("T")


class Limiter(Protocol):
    """What the policy asks of a rate limiter: a turn before each attempt, and the waiting."""

    def acquire(self) -> None:
        """Block until one more request may go, or raise ``BudgetExhaustedError``."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a backoff or a ``Retry-After``)."""
        ...


class Unlimited:
    """No pacing; real sleeps."""

    def acquire(self) -> None:
        """Every request may go at once."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures, shared by all CRMs.

    ``max_retries`` comes from the connection's settings; the waits are parameters so that
    tests can shorten them without changing what is retried.
    """

    max_retries: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5
    refused_retries: int = 2
    refused_wait: float = 0.5

    def run(
        self,
        what: str,
        attempt: Callable[[], T],
        *,
        limiter: Limiter | None = None,
        create: bool = False,
        lookup: Callable[[], T | None] | None = None,
    ) -> T:
        """Call ``attempt`` until it succeeds, the failure is final, or the retries run out.

        ``create`` marks a request that must not be repeated blindly; ``lookup`` (creates only)
        finds what an ambiguous failure may have created, before trying again.
        """
        pace = limiter or Unlimited()
        retries = refused = 0
        while True:
            pace.acquire()
            try:
                return attempt()
            except RefusedConnectionError as exc:
                if refused >= self.refused_retries:
                    raise
                refused += 1
                wait = self.refused_wait * 2 ** (refused - 1)
                _log_retry(what, exc, refused, wait)
                pace.sleep(wait)
            except RetryableError as exc:
                ambiguous = create and exc.applied is not False
                if retries >= self.max_retries or (ambiguous and lookup is None):
                    raise
                retries += 1
                wait = exc.retry_after if exc.retry_after is not None else self.wait(retries)
                _log_retry(what, exc, retries, wait)
                pace.sleep(wait)
                if ambiguous and lookup is not None:
                    found = lookup()
                    if found is not None:
                        log.info("%s: found after an ambiguous failure, not sent again", what)
                        return found

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): doubling, jittered."""
        base = self.initial_wait * 2 ** (attempt - 1)
        return float(min(self.max_wait, base + random.uniform(0, self.jitter)))  # noqa: S311

    def waits(self) -> list[float]:
        """One draw of the whole backoff schedule (for tests and explanations)."""
        return [self.wait(n) for n in range(1, self.max_retries + 1)]


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _log_retry(what: str, exc: Exception, number: int, wait: float) -> None:
    log.warning("%s failed (%s); retry %d in %.1fs", what, exc, number, wait)
