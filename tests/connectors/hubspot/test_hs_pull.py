"""Pulling engagements through the real client: full, incremental, date ranges, lag, costs."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from servefirst.connectors.base import PullWindow, mapped
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import DateRange, Status

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal

FAR_FUTURE = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Deals:
    design: str
    won: str
    other_pipeline: str
    sponsor: str
    bystander: str
    task: str


@pytest.fixture(scope="module")
def deals(portal: Portal) -> Deals:
    rep = portal.rep
    design = rep.deal(
        "Tensile test automation",
        "Design",
        closedate="2030-03-10T15:00:00.000Z",
        operational_date="2030-05-01",
        success_criteria="- [x] Setup from 40 to 10 minutes",
    )
    won = rep.deal("Lab analytics", "Closed Won", closedate="2030-01-05T00:00:00.000Z")
    other = rep.deal("Service renewal", "Appointment Scheduled", pipeline="Sales Pipeline")
    sponsor, bystander = rep.contact("Dana", "Whitfield"), rep.contact("Bo", "Stander")
    rep.sponsor(design, sponsor)
    rep.assoc.create_default("deals", design, "contacts", bystander)
    task = rep.task(design, "Call Dana")  # a rep's own task, not a playbook task
    return Deals(design, won, other, sponsor, bystander, task)


def test_full_pull_maps_the_pipelines_deals_and_ignores_others(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    pulled = {e.id: e for e in mapped(portal.connector(prime).pull(PullWindow()))}
    assert set(pulled) == {deals.design, deals.won}
    design = pulled[deals.design]
    assert (design.stage, design.status) == ("design", Status.OPEN)
    assert [s.contact_id for s in design.sponsors] == [deals.sponsor]  # only the labelled one
    assert design.sponsors[0].name == "Dana Whitfield"
    assert design.operational_date == dt.date(2030, 5, 1)
    assert design.po_date == dt.date(2030, 3, 10)
    assert design.open_tasks == ()  # the rep's own task carries no servefirst key
    assert pulled[deals.won].status is Status.WON


def test_a_page_costs_a_fixed_number_of_batch_calls(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    list(portal.connector(prime).pull(PullWindow()))
    counts = portal.writes()
    assert counts["POST objects/deals/search"] == 1
    assert counts["POST associations/deals/contacts/batch/read"] == 1
    assert counts["POST associations/deals/tasks/batch/read"] == 1
    assert counts["POST objects/contacts/batch/read"] == 1
    assert counts["GET pipelines/deals"] == 1
    assert sum(counts.values()) <= 8


def test_an_incremental_pull_with_no_change_costs_three_calls(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    connector = portal.connector(prime)
    assert list(connector.pull(PullWindow(modified_since=FAR_FUTURE))) == []
    # the pipeline, one empty page of completed playbook tasks, one empty page of deals
    assert connector.api_calls.total == 3
    assert sum(portal.writes().values()) == 3


def _now() -> dt.datetime:
    """A watermark in milliseconds (the sandbox shares this machine's clock).

    The engine's watermark is ``server_time()``, whose Date header has whole seconds; these
    tests need finer steps than that to stay fast.
    """
    now = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    return now


def test_incremental_pull_returns_what_changed_since_the_watermark(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    connector = portal.connector(prime, incremental_overlap_seconds=0)
    watermark = _now()
    portal.rep.update_deal(deals.won, amount="4200")
    changed = [e.id for e in mapped(connector.pull(PullWindow(modified_since=watermark)))]
    assert changed == [deals.won]


def test_date_ranges_are_ored_with_the_modified_window(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    connector = portal.connector(prime)
    window = PullWindow(
        modified_since=FAR_FUTURE,
        date_ranges=(
            DateRange(field="po_date", start=dt.date(2030, 3, 10), end=dt.date(2030, 3, 11)),
            DateRange(field="operational_date", start=dt.date(2031, 1, 1), end=dt.date(2031, 2, 1)),
        ),
    )
    assert [e.id for e in mapped(connector.pull(window))] == [deals.design]
    assert portal.writes()["POST objects/deals/search"] == 1  # one query for both ranges


def test_a_deal_matching_several_queries_is_yielded_once(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    # Ten overlapping ranges do not fit one query (HubSpot's filter limits): several queries.
    ranges = tuple(
        DateRange(field="po_date", start=dt.date(2030, 3, d), end=dt.date(2030, 3, 11))
        for d in range(1, 11)
    )
    connector = portal.connector(prime)
    pulled = [
        e.id
        for e in mapped(connector.pull(PullWindow(modified_since=FAR_FUTURE, date_ranges=ranges)))
    ]
    assert pulled == [deals.design]
    assert portal.writes()["POST objects/deals/search"] >= 2


def test_the_overlap_catches_writes_the_search_index_had_not_seen(
    portal: Portal, prime: Playbook, deals: Deals
) -> None:
    """Run 1 misses a fresh write (index lag); run 2, starting at run 1's watermark minus the
    overlap, finds it. Without the overlap, run 2 would miss it for good."""
    portal.sandbox.admin.call("POST", "/search-lag", {"seconds": 1.0})
    try:
        first = portal.connector(prime, incremental_overlap_seconds=0)
        before = _now()
        portal.rep.update_deal(deals.design, amount="999")
        run1 = [e.id for e in mapped(first.pull(PullWindow(modified_since=before)))]
        watermark = _now()  # what the engine records after run 1
        assert deals.design not in run1  # the index had not caught up
        time.sleep(1.1)

        no_overlap = portal.connector(prime, incremental_overlap_seconds=0)
        assert deals.design not in [
            e.id for e in mapped(no_overlap.pull(PullWindow(modified_since=watermark)))
        ]

        run2 = portal.connector(prime, incremental_overlap_seconds=5)
        assert deals.design in [
            e.id for e in mapped(run2.pull(PullWindow(modified_since=watermark)))
        ]
    finally:
        portal.sandbox.admin.call("POST", "/search-lag", {"seconds": 0})


def test_server_time_comes_from_hubspot(portal: Portal, prime: Playbook, deals: Deals) -> None:
    connector = portal.connector(prime)
    list(connector.pull(PullWindow(modified_since=FAR_FUTURE)))
    now = dt.datetime.now(dt.UTC)
    assert abs((connector.server_time() - now).total_seconds()) < 5
    assert connector.server_time().microsecond == 0  # an HTTP date: whole seconds
