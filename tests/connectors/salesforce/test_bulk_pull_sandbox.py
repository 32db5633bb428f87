"""Pulling 10,000 engagements page by page (a generator: one page in memory at a time)."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from servefirst.connectors.base import PullWindow, mapped
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.model import Engagement

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
        assert isinstance(engagement, Engagement), engagement
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


def test_many_role_changes_are_fetched_in_uri_sized_chunks(
    sandbox: RunningSandbox,
    connector_for: Callable[..., SalesforceConnector],
    counted: Callable[[RunningSandbox, str], int],
    rep: Callable[[RunningSandbox], Any],
) -> None:
    """1,500 opportunities whose roles changed do not fit one GET: the ids are split."""
    sf = rep(sandbox)
    opportunities = [
        r["Id"] for r in sf.query("SELECT Id FROM Opportunity ORDER BY Id LIMIT 1500")["records"]
    ]
    contact = sf.Contact.create({"LastName": "Sponsor"})["id"]
    now = time.time()
    time.sleep(math.floor(now) + 1.02 - now)  # past the whole second of every earlier write
    since = dt.datetime.now(dt.UTC)
    for start in range(0, len(opportunities), 200):
        records = [
            {
                "attributes": {"type": "OpportunityContactRole"},
                "OpportunityId": opp,
                "ContactId": contact,
                "Role": "Executive Sponsor",
            }
            for opp in opportunities[start : start + 200]
        ]
        sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
        )
    sf.session.close()
    connector = connector_for(sandbox, incremental_overlap_seconds=0)
    before = counted(sandbox, "GET query")
    changed = {e.id: e for e in mapped(connector.pull(PullWindow(modified_since=since)))}
    assert set(changed) == set(opportunities)
    assert all(contact in {s.contact_id for s in e.sponsors} for e in changed.values())
    queries = counted(sandbox, "GET query") - before
    assert 3 <= queries <= 5  # the role changes, the main query with a first chunk, the rest
    connector.close()
