"""The shared API budget's rolling windows, with an injected clock: exact, and never over."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from servefirst.connectors.budget import LocalLimiter, wait_for
from servefirst.connectors.hubspot.limits import Pacer, RateHeaders


class Clock:
    """Monotonic seconds that move only when told to (or when something sleeps on them)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=3, allow_nan=False), max_size=80),
    limit=st.integers(min_value=1, max_value=8),
    window=st.floats(min_value=0.5, max_value=10, allow_nan=False),
)
def test_no_window_ever_holds_more_than_the_limit(
    gaps: list[float], limit: int, window: float
) -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    taken: list[float] = []
    for gap in gaps:
        clock.now += gap
        if limiter.take("org", limit, window) == 0.0:
            taken.append(clock.now)
    for start in taken:
        assert sum(1 for t in taken if start <= t < start + window) <= limit


@given(
    gaps=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=40),
    limit=st.integers(min_value=1, max_value=6),
)
def test_the_wait_a_refusal_names_is_exactly_enough(gaps: list[float], limit: int) -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    for gap in gaps:
        clock.now += gap
        wait = limiter.take("org", limit, 5.0)
        if wait > 0:
            clock.now += wait * 0.999
            assert limiter.take("org", limit, 5.0) > 0  # not a moment too soon...
            clock.now += wait * 0.001 + 1e-9
            assert limiter.take("org", limit, 5.0) == 0.0  # ...and not longer than needed


def test_waiting_for_a_place_sleeps_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    for _ in range(3):
        assert wait_for(limiter, "org", 3, 10.0, clock.sleep) == 0.0
        clock.now += 1.0
    assert wait_for(limiter, "org", 3, 10.0, clock.sleep) == 7.0
    assert clock.slept == [7.0]


def test_keys_are_separate_budgets() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    assert limiter.take("portal-1", 1, 10.0) == 0.0
    assert limiter.take("portal-2", 1, 10.0) == 0.0
    assert limiter.take("portal-1", 1, 10.0) == 10.0


def test_two_pacers_of_one_portal_share_its_search_limit() -> None:
    clock = Clock()
    shared = LocalLimiter(clock)
    first = Pacer(0.5, clock=clock, sleep=clock.sleep, limiter=shared, key="hubspot:1")
    second = Pacer(0.5, clock=clock, sleep=clock.sleep, limiter=shared, key="hubspot:1")
    other = Pacer(0.5, clock=clock, sleep=clock.sleep, limiter=shared, key="hubspot:2")
    for pacer in (first, second, first, second, first):
        pacer.before(search=True)
    other.before(search=True)  # another portal: its own five a second
    assert clock.slept == []
    second.before(search=True)  # the sixth search of portal 1 within the second waits
    assert clock.slept == [1.1]


def test_two_pacers_of_one_portal_share_its_ten_second_window() -> None:
    clock = Clock()
    shared = LocalLimiter(clock)
    pacers = [
        Pacer(0.5, clock=clock, sleep=clock.sleep, limiter=shared, key="hubspot:1")
        for _ in range(2)
    ]
    # The portal allows 20 calls per 10 s; one is kept for others: 19 between both pacers.
    headers = RateHeaders(window_max=20, window_remaining=20, interval_seconds=10.0)
    for pacer in pacers:
        pacer.observe(headers)
    for n in range(19):
        pacers[n % 2].before(search=False)
    assert clock.slept == []
    pacers[1].before(search=False)
    assert clock.slept == [10.0]
