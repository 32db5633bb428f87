"""Faults injected by the sandbox, met by the real client: 429s, the daily limit, 5xx, resets.

The connector's pacer gets a fake clock whose sleep only records: the tests assert *how long*
the connector would wait (the header's interval, a bounded backoff) without waiting it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import pytest

from servefirst.connectors.base import PullWindow
from servefirst.connectors.hubspot.limits import Pacer
from servefirst.connectors.retry import RetryPolicy
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import BudgetExhaustedError, RetryableError

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import FakeClock, Portal

    from servefirst.connectors.hubspot import HubSpotConnector

SEARCH = "/crm/v3/objects/deals/search"
NOTHING = PullWindow(modified_since=dt.datetime(2099, 1, 1, tzinfo=dt.UTC))


def _connector(portal: Portal, prime: Playbook, clock: FakeClock, **kw: object) -> HubSpotConnector:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    return portal.connector(prime, pacer=pacer, **kw)


def _searches(portal: Portal) -> int:
    return portal.writes().get("POST objects/deals/search", 0)


def test_a_ten_secondly_429_is_retried_after_the_headers_interval(
    portal: Portal, prime: Playbook, clock: FakeClock
) -> None:
    portal.sandbox.admin.inject("limit", policy="ten_secondly", path_prefix=SEARCH)
    connector = _connector(portal, prime, clock)
    assert list(connector.pull(NOTHING)) == []
    assert clock.slept == [10.0]  # X-HubSpot-RateLimit-Interval-Milliseconds: 10000
    assert _searches(portal) == 2


def test_a_daily_429_stops_at_once(portal: Portal, prime: Playbook, clock: FakeClock) -> None:
    portal.sandbox.admin.inject("limit", count=5, policy="daily", path_prefix=SEARCH)
    connector = _connector(portal, prime, clock)
    with pytest.raises(BudgetExhaustedError, match="daily API limit"):
        list(connector.pull(NOTHING))
    assert _searches(portal) == 1
    assert clock.slept == []


def test_5xx_and_resets_are_retried_with_bounded_backoff(
    portal: Portal, prime: Playbook, clock: FakeClock
) -> None:
    admin = portal.sandbox.admin
    admin.inject("status", status=503, path_prefix=SEARCH)
    admin.inject("reset", path_prefix=SEARCH)
    admin.inject("status", status=502, path_prefix=SEARCH)
    connector = _connector(portal, prime, clock, max_retries=3)
    assert list(connector.pull(NOTHING)) == []
    assert _searches(portal) == 4
    assert len(clock.slept) == 3
    assert all(0 <= s <= RetryPolicy().max_wait for s in clock.slept)


def test_every_call_has_the_configured_timeout(
    portal: Portal, prime: Playbook, clock: FakeClock
) -> None:
    portal.sandbox.admin.inject("latency", latency_ms=1500, path_prefix=SEARCH)
    connector = _connector(portal, prime, clock, timeout_seconds=0.3)
    started = time.monotonic()
    assert list(connector.pull(NOTHING)) == []  # the slow reply was abandoned and retried
    assert time.monotonic() - started < 1.4
    assert _searches(portal) == 2


def test_retries_are_bounded_by_max_retries(
    portal: Portal, prime: Playbook, clock: FakeClock
) -> None:
    portal.sandbox.admin.inject("status", count=10, status=503, path_prefix=SEARCH)
    connector = _connector(portal, prime, clock, max_retries=2)
    with pytest.raises(RetryableError, match="503"):
        list(connector.pull(NOTHING))
    assert _searches(portal) == 3
    # the pipeline, the search for completed tasks, then three deal search attempts
    assert connector.api_calls.read == 1 + 1 + 3


def test_the_budget_share_stops_the_run_before_it_eats_the_portals_day(
    portal: Portal, prime: Playbook, clock: FakeClock
) -> None:
    # Other integrations already used 60 % of the professional tier's 650,000 daily calls.
    portal.sandbox.admin.call("POST", "/ratelimits", {"daily_used": 390_000})
    try:
        connector = _connector(portal, prime, clock)  # api_budget_share 0.5
        with pytest.raises(BudgetExhaustedError, match="api_budget_share"):
            list(connector.pull(NOTHING))
        assert connector.api_calls.total == 1  # the reply that told us, nothing after it
    finally:
        portal.sandbox.admin.call("POST", "/ratelimits", {"daily_used": 0})


def test_searches_are_paced_under_the_portals_per_second_limit(
    portal: Portal, prime: Playbook
) -> None:
    """With the sandbox enforcing the search limit (5/s), a pacing connector never meets a
    429: it spaces its searches itself (real clock: this test takes about two seconds)."""
    admin = portal.sandbox.admin
    admin.call("POST", "/ratelimits", {"enabled": True, "reset_window": True})
    try:
        connector = portal.connector(prime)
        started = time.monotonic()
        for _ in range(11):
            assert list(connector.pull(NOTHING)) == []
        assert time.monotonic() - started >= 2.0  # it waited ...
        assert _searches(portal) == 11  # ... and never needed a retry
    finally:
        admin.call("POST", "/ratelimits", {"enabled": False})
