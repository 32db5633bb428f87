"""Paging through a deal search while reps change the result set: no deal is ever skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInputForCreate as BatchCreate
from hubspot.crm.deals import SimplePublicObjectBatchInputForCreate as DealCreate

from servefirst.connectors.base import PullWindow
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.connectors.hubspot.conftest import Portal

DEALS = 490  # two full pages of 200 and a partial one


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
    pulled: list[str] = []
    joined = ""
    for engagement in connector.pull(PullWindow()):
        assert isinstance(engagement, Engagement), engagement
        pulled.append(engagement.id)
        if len(pulled) == 200:  # page 1 read; page 2 not asked for yet
            crowded.rep.deals.archive(ids[10])  # total unchanged: one leaves behind the cursor,
            (joined,) = _create(crowded, ["Late deal"])  # one joins at the end
    stayed = [i for i in ids if i != ids[10]]
    assert set(stayed) <= set(pulled)
    assert joined in pulled
    assert len(pulled) == len(set(pulled))
    assert crowded.writes()["POST objects/deals/search"] == 3  # one call per page
