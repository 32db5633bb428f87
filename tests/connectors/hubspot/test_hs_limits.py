"""Pacing and 429 classification with a fake clock: no waiting, exact waits asserted."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from servefirst.connectors.hubspot.limits import Pacer, RateHeaders, classify_429
from servefirst.playbook.errors import BudgetExhaustedError

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import FakeClock


def _headers(**values: str) -> RateHeaders:
    names = {
        "max": "X-HubSpot-RateLimit-Max",
        "remaining": "X-HubSpot-RateLimit-Remaining",
        "interval": "X-HubSpot-RateLimit-Interval-Milliseconds",
        "daily": "X-HubSpot-RateLimit-Daily",
        "daily_remaining": "X-HubSpot-RateLimit-Daily-Remaining",
        "retry_after": "Retry-After",
    }
    return RateHeaders.parse({names[k]: v for k, v in values.items()})


def test_headers_parse_case_insensitively_and_ignore_garbage() -> None:
    parsed = RateHeaders.parse(
        {"x-hubspot-ratelimit-max": "190", "X-HUBSPOT-RATELIMIT-REMAINING": "oops"}
    )
    assert (parsed.window_max, parsed.window_remaining) == (190, None)
    assert RateHeaders.parse(None) == RateHeaders()


@pytest.mark.parametrize(
    ("body", "headers", "daily", "wait"),
    [
        ('{"policyName":"DAILY","message":"daily"}', {}, True, 0.0),
        ('{"policyName":"TEN_SECONDLY_ROLLING"}', {"interval": "10000"}, False, 10.0),
        ('{"policyName":"TEN_SECONDLY_ROLLING"}', {"interval": "250"}, False, 0.25),
        ('{"policyName":"TEN_SECONDLY_ROLLING"}', {"retry_after": "2"}, False, 2.0),
        ('{"policyName":"SECONDLY"}', {}, False, 1.0),
        ('{"message":"You have reached your daily limit."}', {}, True, 0.0),
        ("<html>busy</html>", {}, False, 10.0),
    ],
)
def test_429s_are_told_apart(body: str, headers: dict[str, str], daily: bool, wait: float) -> None:
    verdict = classify_429(body, _headers(**headers))
    assert (verdict.daily, verdict.wait_seconds) == (daily, wait)


def test_plenty_of_window_means_no_wait(clock: FakeClock) -> None:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    pacer.observe(_headers(max="190", remaining="150", interval="10000"))
    pacer.before(search=False)
    assert clock.slept == []


def test_a_nearly_spent_window_waits_until_our_oldest_calls_leave_it(clock: FakeClock) -> None:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        pacer.before(search=False)
        clock.now += 1.0
    # The portal reports 9 left of 190; the reserve is 9 (5 %): one call must leave the window.
    pacer.observe(_headers(max="190", remaining="9", interval="10000"))
    pacer.before(search=False)
    # Our oldest call was at t=1000, so the window frees it at t=1010; now is 1003.
    assert clock.slept == [7.0]


def test_a_window_spent_by_others_waits_a_full_interval(clock: FakeClock) -> None:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    pacer.observe(_headers(max="100", remaining="0", interval="10000"))
    pacer.before(search=False)
    assert clock.slept == [10.0]


def test_searches_stay_under_five_per_second(clock: FakeClock) -> None:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        pacer.before(search=True)
        clock.now += 0.1
    pacer.before(search=True)
    assert clock.slept == [0.6]  # the first search leaves the (1 s + margin) window at 1001.1
    pacer.before(search=False)  # other calls are not held by the search limit
    assert clock.slept == [0.6]


def test_the_daily_share_stops_the_run_before_the_next_call(clock: FakeClock) -> None:
    pacer = Pacer(0.25, clock=clock, sleep=clock.sleep)
    pacer.observe(_headers(daily="1000", daily_remaining="751"))
    pacer.before(search=False)
    pacer.observe(_headers(daily="1000", daily_remaining="750"))
    with pytest.raises(BudgetExhaustedError, match="api_budget_share"):
        pacer.before(search=False)


def test_a_window_count_older_than_the_window_is_ignored(clock: FakeClock) -> None:
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    pacer.observe(_headers(max="100", remaining="0", interval="10000"))
    clock.now += 10.0  # e.g. the retry after a 429 waited the interval
    pacer.before(search=False)
    assert clock.slept == []


def test_a_search_that_waited_for_the_window_takes_a_place_dated_after_the_wait(
    clock: FakeClock,
) -> None:
    """HubSpot counts a search when it arrives: a place taken before a window wait is stale."""
    pacer = Pacer(0.5, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        pacer.before(search=True)
    pacer.observe(_headers(max="100", remaining="0", interval="10000"))
    pacer.before(search=True)  # 5th search place at t=1000, then the window's 10 s wait
    assert clock.slept == [10.0]
    pacer.observe(_headers(max="100", remaining="90", interval="10000"))
    for _ in range(4):
        pacer.before(search=True)  # the searches of t=1000 have left the 1.1 s window
    assert clock.slept == [10.0]
    pacer.before(search=True)  # 6th search since the wait: the one re-dated at t=1010 counts
    assert clock.slept == [10.0, pytest.approx(1.1)]


def test_a_search_waiting_for_its_limit_does_not_hold_back_other_calls() -> None:
    """A pull's read-ahead search waits on its own; the batch reads of the page go on."""
    release = threading.Event()
    entered = threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        entered.set()
        release.wait(5)

    pacer = Pacer(0.5, sleep=sleep)
    for _ in range(5):
        pacer.before(search=True)
    searcher = threading.Thread(target=pacer.before, kwargs={"search": True})
    searcher.start()
    assert entered.wait(5)  # the 6th search sleeps for its place
    done = threading.Event()

    def batch_read() -> None:
        pacer.before(search=False)
        done.set()

    other = threading.Thread(target=batch_read)
    other.start()
    try:
        assert done.wait(5), "a batch read waited behind a search's wait"
    finally:
        release.set()
        searcher.join(5)
        other.join(5)
    assert len(slept) >= 1
