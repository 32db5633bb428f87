"""Paging through a deal search while reps change the result set: no deal is ever skipped."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, cast

import pytest
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInputForCreate as BatchCreate
from hubspot.crm.deals import SimplePublicObjectBatchInputForCreate as DealCreate

from servefirst.connectors.base import PullWindow
from servefirst.connectors.hubspot.keyset import READ_AHEAD_PAGES
from servefirst.connectors.sandboxkit.admin import while_held
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.connectors.hubspot.conftest import Portal

DEALS = 490  # two full pages of 200 and a partial one
SEARCH_PATH = "/crm/v3/objects/deals/search"


@pytest.fixture(scope="module")
def crowded(portal_factory: Callable[..., Portal], prime: Playbook) -> Iterator[Portal]:
    opened = portal_factory(seed="none")
    opened.connector(prime).provision(prime, dry_run=False)
    yield opened
    opened.stop()


def _create(portal: Portal, names: list[str]) -> list[str]:
    pipeline, stage = portal.rep.stage_id("Serve-first", "Design")
    made: list[str] = []
    for start in range(0, len(names), 100):
        inputs = [
            DealCreate(
                properties={"dealname": n, "pipeline": pipeline, "dealstage": stage},
                associations=[],
            )
            for n in names[start : start + 100]
        ]
        reply = portal.rep.deals_batch.create(BatchCreate(inputs=inputs))
        made += [str(r.id) for r in reply.results]
    return made


def test_a_deal_leaving_and_one_joining_between_pages_skips_nothing(
    crowded: Portal, prime: Playbook
) -> None:
    ids = sorted(_create(crowded, [f"Deal {n}" for n in range(DEALS)]), key=int)
    connector = crowded.connector(prime)
    crowded.reset()
    joined: list[str] = []

    def leave_and_join() -> None:
        crowded.rep.deals.archive(ids[10])  # total unchanged: one leaves behind the cursor,
        joined.extend(_create(crowded, ["Late deal"]))  # one joins at the end

    # Page 1 is read; the request for page 2 is held at the portal while the set changes.
    with while_held(crowded.sandbox.admin, 2, SEARCH_PATH, leave_and_join):
        pulled = [e.id for e in connector.pull(PullWindow()) if isinstance(e, Engagement)]
    stayed = [i for i in ids if i != ids[10]]
    assert len(joined) == 1
    assert set(stayed) <= set(pulled)
    assert joined[0] in pulled
    assert len(pulled) == len(set(pulled))
    assert crowded.writes()["POST objects/deals/search"] == 3  # one call per page


def test_pages_read_ahead_are_dropped_when_the_run_stops_early(
    crowded: Portal, prime: Playbook
) -> None:
    """A run that stops after its first batch leaves no reader behind and reads no page twice."""
    connector = crowded.connector(prime)
    crowded.reset()
    pull = cast("Generator[object, None, None]", connector.pull(PullWindow()))
    first = [next(pull) for _ in range(5)]
    pull.close()  # as the engine's stop between batches ends the pull
    assert len(first) == 5
    assert not [t for t in threading.enumerate() if t.name == "hubspot-read-ahead"]
    searches = crowded.writes()["POST objects/deals/search"]
    assert 1 <= searches <= 1 + READ_AHEAD_PAGES
