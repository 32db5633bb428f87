"""Which Salesforce failures are retried, which stop the run, and how long to wait.

Salesforce signals every limit with 403 (never 429), so the error code and message decide:
``REQUEST_LIMIT_EXCEEDED`` "TotalRequests" means the org's daily budget is spent (stop now,
retrying only burns what is left of it), while the concurrent-request variants and 5xx answers
clear up within seconds (retry with exponential backoff and jitter, a bounded number of times).
simple-salesforce retries nothing itself.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from servefirst.playbook.errors import (
    AuthError,
    BudgetExhaustedError,
    RetryableError,
    ServeFirstError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Network failures worth another try: refused or reset connections, truncated bodies, timeouts.
TRANSIENT_NETWORK = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient failures.

    ``max_retries`` comes from the connection's settings; the waits are parameters so that
    tests can shorten them without changing what is retried.
    """

    max_retries: int = 5
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0

    def run(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn``; retry it on ``RetryableError``; re-raise the last one when out of tries."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=lambda state: self.wait(state.attempt_number),
            retry=retry_if_exception_type(RetryableError),
            before_sleep=_log_retry(what),
            reraise=True,
        )
        return retrying(fn)

    def wait(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based): doubling, jittered, capped.

        The jitter spreads retries of several workers hitting the same org, so they do not
        come back in lockstep.
        """
        base = self.initial_wait * 2 ** (attempt - 1)
        return float(min(self.max_wait, base + random.uniform(0, self.jitter)))  # noqa: S311

    def waits(self) -> list[float]:
        """One draw of the whole backoff schedule (for tests and ``--explain`` output)."""
        return [self.wait(n) for n in range(1, self.max_retries + 1)]


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Salesforce %s failed (%s); retry %d in %.1fs", what, error, state.attempt_number, wait
        )

    return before_sleep


def error_items(exc: SalesforceError) -> list[tuple[str, str]]:
    """``(errorCode, message)`` pairs of a Salesforce error body, whatever its shape."""
    content: Any = exc.content
    items = content if isinstance(content, list) else [content]
    pairs = []
    for item in items:
        if isinstance(item, dict):
            code = str(item.get("errorCode") or item.get("statusCode") or item.get("error") or "")
            message = str(item.get("message") or item.get("error_description") or "")
            pairs.append((code, message))
        elif item:
            text = item.decode(errors="replace") if isinstance(item, bytes) else str(item)
            pairs.append(("", text[:500]))
    return pairs


def describe(exc: SalesforceError) -> str:
    """A Salesforce error as its own words: ``CODE: message; CODE: message``."""
    pairs = error_items(exc)
    text = "; ".join(f"{code}: {message}" if code else message for code, message in pairs)
    return text or f"HTTP {exc.status}"


def translate(exc: BaseException, what: str, connection: str | None) -> ServeFirstError | None:
    """The run-level meaning of a failure, or ``None`` when the caller must decide."""
    if isinstance(exc, TRANSIENT_NETWORK):
        return RetryableError(
            f"network failure during Salesforce {what}: {type(exc).__name__}",
            connection=connection,
        )
    if isinstance(exc, SalesforceRefusedRequest):
        pairs = error_items(exc)
        if any(code == "REQUEST_LIMIT_EXCEEDED" for code, _ in pairs):
            text = describe(exc)
            if "TotalRequests" in text:
                return BudgetExhaustedError(
                    "the org's daily API request limit is spent; the run stops and resumes "
                    "from its checkpoint when Salesforce allows requests again",
                    connection=connection,
                    response=text,
                )
            return RetryableError(
                f"Salesforce refused {what} for now (concurrent request limit)",
                connection=connection,
                response=text,
            )
        return AuthError(
            f"Salesforce refused {what}: check the integration user's permissions and the "
            "permission set servefirst provisions",
            connection=connection,
            response=describe(exc),
        )
    if isinstance(exc, SalesforceGeneralError) and exc.status >= 500:
        return RetryableError(
            f"Salesforce answered HTTP {exc.status} to {what}",
            connection=connection,
            response=describe(exc),
        )
    return None
