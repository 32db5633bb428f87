"""25,000 changed deals pulled correctly past HubSpot's 10,000-results-per-query cap."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from servefirst.connectors.base import PullWindow, mapped
from servefirst.connectors.budget import NoLimit
from servefirst.connectors.hubspot.limits import Pacer
from servefirst.playbook.definition import Playbook

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal

N = 25_000


@pytest.fixture(scope="module")
def bench(portal_factory: Callable[..., Portal]) -> Iterator[Portal]:
    opened = portal_factory(seed="none", engagements=N)
    yield opened
    opened.stop()


def test_25000_changed_deals_are_pulled_once_each(bench: Portal, prime: Playbook) -> None:
    # Pacing would only make this test wait for the sandbox's honest rate-limit headers
    # (190 calls per 10 s); pacing itself is tested in test_hs_limits and test_hs_faults.
    connector = bench.connector(prime, pacer=Pacer(0.5, sleep=lambda _s: None, limiter=NoLimit()))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    ids = Counter(e.id for e in mapped(connector.pull(PullWindow(modified_since=since))))

    assert len(ids) == N
    assert max(ids.values()) == 1
    counts = bench.writes()
    # 125 pages of 200: HubSpot would answer 400 to any page past the 10,000th result, so
    # reaching 25,000 proves the windowing; no page was refused and none read twice.
    assert counts["POST objects/deals/search"] == N // 200
    assert counts["POST associations/deals/contacts/batch/read"] == N // 200
    assert sum(counts.values()) == connector.api_calls.total
    assert connector.api_calls.write == 0
