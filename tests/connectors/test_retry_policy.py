"""The retry policy both connectors share: what is retried, how long it waits, and creates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servefirst.connectors.retry import RetryPolicy, retry_after
from servefirst.playbook.errors import (
    AuthError,
    BudgetExhaustedError,
    CertificateError,
    HostNotFoundError,
    RefusedConnectionError,
    RetryableError,
)


class Recorder:
    """A limiter that counts turns and records waits instead of sleeping."""

    def __init__(self) -> None:
        self.turns = 0
        self.slept: list[float] = []

    def acquire(self) -> None:
        self.turns += 1

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def failing(*errors: Exception, result: str = "ok") -> tuple[list[int], Callable[[], str]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return calls, attempt


def test_transient_failures_are_retried_then_succeed() -> None:
    limiter = Recorder()
    calls, attempt = failing(RetryableError("503"), RetryableError("reset"))
    assert RetryPolicy().run("query", attempt, limiter=limiter) == "ok"
    assert len(calls) == 3
    assert limiter.turns == 3  # the limiter is asked before every attempt
    assert len(limiter.slept) == 2


def test_retries_are_bounded_and_the_last_failure_is_raised() -> None:
    calls, attempt = failing(*[RetryableError(f"503 #{n}") for n in range(10)])
    with pytest.raises(RetryableError, match="503 #3"):
        RetryPolicy(max_retries=3).run("query", attempt, limiter=Recorder())
    assert len(calls) == 4


@pytest.mark.parametrize(
    "error",
    [
        BudgetExhaustedError("TotalRequests"),
        AuthError("revoked"),
        CertificateError("certificate verify failed", host="h", port=443, fix="set ca_bundle"),
        HostNotFoundError("cannot resolve host h", host="h", port=443, fix="fix the URL"),
    ],
)
def test_final_failures_are_never_retried(error: Exception) -> None:
    limiter = Recorder()
    calls, attempt = failing(error)
    with pytest.raises(type(error)):
        RetryPolicy().run("query", attempt, limiter=limiter)
    assert (len(calls), limiter.slept) == (1, [])


def test_a_refused_connection_gets_a_few_quick_retries_only() -> None:
    limiter = Recorder()
    refused = RefusedConnectionError("refused", host="h", port=1, fix="start it")
    calls, attempt = failing(*[refused] * 10)
    with pytest.raises(RefusedConnectionError):
        RetryPolicy(max_retries=10).run("query", attempt, limiter=limiter)
    assert len(calls) == 3
    assert sum(limiter.slept) < 2


def test_retry_after_is_honoured() -> None:
    limiter = Recorder()
    _, attempt = failing(RetryableError("429", retry_after=7.0))
    RetryPolicy().run("search", attempt, limiter=limiter)
    assert limiter.slept == [7.0]


def test_an_ambiguous_failure_of_a_create_is_not_repeated_blindly() -> None:
    calls, attempt = failing(RetryableError("502 after the write"))
    with pytest.raises(RetryableError):
        RetryPolicy().run("create", attempt, limiter=Recorder(), create=True)
    assert len(calls) == 1


def test_a_create_refused_before_anything_happened_is_retried() -> None:
    calls, attempt = failing(RetryableError("429", applied=False, retry_after=1.0))
    assert RetryPolicy().run("create", attempt, limiter=Recorder(), create=True) == "ok"
    assert len(calls) == 2


@pytest.mark.parametrize(("landed", "sent"), [(True, 1), (False, 2)])
def test_a_create_looks_up_its_natural_key_before_trying_again(landed: bool, sent: int) -> None:
    calls, attempt = failing(RetryableError("reset after the write"), result="created again")
    looked: list[int] = []

    def lookup() -> str | None:
        looked.append(1)
        return "found" if landed else None

    result = RetryPolicy().run(
        "create",
        attempt,
        limiter=Recorder(),
        create=True,
        lookup=lookup,
    )
    assert result == ("found" if landed else "created again")
    assert (len(calls), len(looked)) == (sent, 1)


@given(
    initial=st.floats(0.01, 5),
    cap=st.floats(0.01, 120),
    jitter=st.floats(0, 2),
    attempt=st.integers(1, 30),
)
def test_backoff_doubles_with_bounded_jitter_and_a_cap(
    initial: float, cap: float, jitter: float, attempt: int
) -> None:
    policy = RetryPolicy(initial_wait=initial, max_wait=cap, jitter=jitter)
    base = initial * 2 ** (attempt - 1)
    wait = policy.wait(attempt)
    assert min(cap, base) <= wait <= min(cap, base + jitter)


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    waited = retry_after({"Retry-After": format_datetime(later, usegmt=True)})
    assert waited is not None and 25 < waited <= 30
    assert retry_after({"Retry-After": "soon"}) is None
    assert retry_after({}) is None
