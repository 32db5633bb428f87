"""Pulling 10,000 engagements page by page (a generator: one page in memory at a time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from servefirst.connectors.base import PullWindow
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox

N = 10_000
PAGE = 2_000  # Salesforce's default and largest query page


@pytest.fixture(scope="module")
def sandbox(new_sandbox: Callable[..., RunningSandbox]) -> Iterator[RunningSandbox]:
    running = new_sandbox(engagements=N)
    yield running
    running.stop()


def test_ten_thousand_engagements_are_pulled_page_by_page(
    sandbox: RunningSandbox,
    connector_for: Callable[..., SalesforceConnector],
    counted: Callable[[RunningSandbox, str], int],
) -> None:
    connector = connector_for(sandbox)
    pulled = connector.pull(PullWindow())
    seen: set[str] = set()
    pages_read: list[int] = []
    for index, engagement in enumerate(pulled):
        if index % PAGE == 0:
            # the first record of each page arrives when, and only when, its page is read
            pages_read.append(counted(sandbox, "GET query"))
        seen.add(engagement.id)
    assert len(seen) == N
    assert pages_read == [1, 2, 3, 4, 5]
    assert counted(sandbox, "GET query") == N // PAGE
    assert connector.api_calls.read == N // PAGE
    connector.close()


def test_page_size_can_be_asked_for(
    sandbox: RunningSandbox,
    connector_for: Callable[..., SalesforceConnector],
    counted: Callable[[RunningSandbox, str], int],
) -> None:
    connector = connector_for(sandbox, batch_size=1_000)
    before = counted(sandbox, "GET query")
    assert sum(1 for _ in connector.pull(PullWindow())) == N
    assert counted(sandbox, "GET query") - before == N // 1_000
    connector.close()
