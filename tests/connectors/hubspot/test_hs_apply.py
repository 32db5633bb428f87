"""Applying plans through the real client: batch costs, per-record errors, autofill, tasks."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from servefirst.connectors.base import (
    FieldChange,
    Plan,
    PullWindow,
    RecordUpdate,
    TaskClose,
    TaskOpen,
    mapped,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import RetryableError
from servefirst.playbook.model import DesiredTask, Engagement, Health, task_key

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal

DUE = dt.date(2030, 1, 15)


@pytest.fixture(scope="module")
def engagements(portal: Portal, prime: Playbook) -> list[Engagement]:
    portal.sandbox.seed("bench", 150)
    pulled = list(mapped(portal.connector(prime).pull(PullWindow())))
    assert len(pulled) == 150
    return sorted(pulled, key=lambda e: int(e.id))


def _health(engagement_id: str, value: object, before: object = None) -> RecordUpdate:
    return RecordUpdate(engagement_id, (FieldChange(engagement_id, "health", before, value),))


def _writes(portal: Portal) -> dict[str, int]:
    return {
        k: n
        for k, n in portal.writes().items()
        if not k.startswith("GET") and "read" not in k and "search" not in k
    }


def _open(engagement: Engagement, rule: str) -> TaskOpen:
    return TaskOpen(
        engagement.id,
        DesiredTask(
            key=task_key(engagement.id, rule),
            rule=rule,
            subject=f"Serve-first: {rule}",
            description="Agree the Operational Date with your sponsor.",
            due=DUE,
        ),
    )


def test_n_updates_cost_ceil_n_over_100_write_calls(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    updates = tuple(
        RecordUpdate(
            e.id,
            (
                FieldChange(e.id, "health", None, Health.AT_RISK),
                FieldChange(e.id, "findings", None, f"PO date passed on {e.name}"),
                FieldChange(e.id, "slips", None, 1),
            ),
        )
        for e in engagements
    )
    result = portal.connector(prime).apply(Plan(updates=updates))
    assert result.errors == []
    assert [r.engagement_id for r in result.results] == [e.id for e in engagements]
    assert _writes(portal) == {"POST objects/deals/batch/update": 2}  # ceil(150 / 100)

    again = {e.id: e for e in mapped(portal.connector(prime).pull(PullWindow()))}
    sample = again[engagements[120].id]
    assert sample.current.health is Health.AT_RISK
    assert sample.current.findings == f"PO date passed on {engagements[120].name}"
    assert sample.current.slips == 1


def test_unknown_records_are_per_record_errors_with_hubspots_message(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    plan = Plan(
        updates=(
            _health(engagements[0].id, Health.ON_TRACK),
            _health("999999991", Health.ON_TRACK),
            _health(engagements[1].id, Health.ON_TRACK),
        )
    )
    result = portal.connector(prime).apply(plan)
    assert [(r.engagement_id, r.ok) for r in result.results] == [
        (engagements[0].id, True),
        ("999999991", False),
        (engagements[1].id, True),
    ]
    (error,) = result.errors
    assert "not exist" in error.message or "deleted" in error.message
    assert _writes(portal) == {"POST objects/deals/batch/update": 1}


def test_a_bad_value_fails_only_its_own_record(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    # HubSpot refuses a whole batch for one invalid value (400): the connector narrows it down.
    updates = [_health(e.id, Health.OFF_TRACK) for e in engagements[10:20]]
    updates[6] = _health(engagements[16].id, "purple")
    result = portal.connector(prime).apply(Plan(updates=tuple(updates)))
    assert [r.engagement_id for r in result.errors] == [engagements[16].id]
    assert "purple" in result.errors[0].message
    assert sum(r.ok for r in result.results) == 9
    assert _writes(portal)["POST objects/deals/batch/update"] <= 1 + 2 * 4


def test_autofill_never_overwrites_what_a_rep_typed_meanwhile(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    empty = [e for e in engagements if e.operational_date is None][:2]
    raced, free = empty
    portal.rep.update_deal(raced.id, operational_date="2031-02-03")  # after the pull

    def fill(engagement: Engagement) -> RecordUpdate:
        change = FieldChange(
            engagement.id, "operational_date", None, dt.date(2031, 6, 1), only_if_empty=True
        )
        return RecordUpdate(engagement.id, (change,))

    result = portal.connector(prime).apply(Plan(updates=(fill(raced), fill(free))))
    skipped, written = result.results
    assert (skipped.ok, skipped.skipped_conflict) == (False, True)
    assert "already filled" in skipped.message
    assert written.ok
    assert result.errors == []
    assert portal.rep.get_deal(raced.id, "operational_date")["operational_date"] == "2031-02-03"
    assert portal.rep.get_deal(free.id, "operational_date")["operational_date"] == "2031-06-01"
    assert _writes(portal)["POST objects/deals/batch/update"] == 1  # besides the rep's PATCH


def test_a_task_is_created_on_the_deal_for_its_owner_and_never_twice(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    target = engagements[30]
    plan = Plan(task_opens=(_open(target, "sponsor_missing"), _open(target, "sponsor_missing")))
    first = portal.connector(prime).apply(plan)
    assert [r.ok for r in first.results] == [True, True]
    assert first.results[0].crm_id == first.results[1].crm_id
    assert _writes(portal) == {"POST objects/tasks/batch/create": 1}

    (task,) = portal.rep.tasks_of(target.id)
    assert task["servefirst_task_key"] == task_key(target.id, "sponsor_missing")
    assert task["hubspot_owner_id"] == target.owner_id
    assert task["hs_task_status"] == "NOT_STARTED"
    assert task["hs_timestamp"].startswith("2030-01-15T")

    pulled = {e.id: e for e in mapped(portal.connector(prime).pull(PullWindow()))}
    assert [(t.rule, t.task_id) for t in pulled[target.id].open_tasks] == [
        ("sponsor_missing", task["id"])
    ]

    replay = portal.connector(prime).apply(plan)  # a new process replaying the same plan
    assert replay.results[0].message == "already open"
    assert len(portal.rep.tasks_of(target.id)) == 1


def test_a_crash_between_the_close_and_the_create_replays_without_a_duplicate(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    target = engagements[31]
    earlier = portal.connector(prime).apply(Plan(task_opens=(_open(target, "po_date_past"),)))
    close = TaskClose(
        target.id,
        task_key(target.id, "po_date_past"),
        "po_date_past",
        str(earlier.results[0].crm_id),
    )
    plan = Plan(task_opens=(_open(target, "operational_date_missing"),), task_closes=(close,))

    # The run dies at the close, which goes before the create: the close keeps failing until
    # retries run out, and nothing was created, so there is never a second open task.
    portal.sandbox.admin.inject(
        "status", count=10, status=503, path_prefix="/crm/v3/objects/tasks/batch/update"
    )
    crashing = portal.connector(prime, max_retries=1)
    crashing.client.pacer.sleep = lambda _seconds: None
    with pytest.raises(RetryableError):
        crashing.apply(plan)
    portal.sandbox.admin.clear_faults()
    assert len(portal.rep.tasks_of(target.id)) == 1

    replay = portal.connector(prime).apply(plan)
    assert replay.errors == []
    tasks = {t["servefirst_task_key"]: t for t in portal.rep.tasks_of(target.id)}
    assert len(tasks) == 2 == len(portal.rep.tasks_of(target.id))
    assert tasks[task_key(target.id, "operational_date_missing")]["hs_task_status"] == "NOT_STARTED"
    assert tasks[task_key(target.id, "po_date_past")]["hs_task_status"] == "COMPLETED"


def test_a_completed_task_is_reopened_not_duplicated(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    target = engagements[32]
    plan = Plan(task_opens=(_open(target, "success_unconfirmed"),))
    created = portal.connector(prime).apply(plan).results[0]
    portal.rep.complete_task(str(created.crm_id))

    reopened = portal.connector(prime).apply(plan).results[0]
    assert (reopened.ok, reopened.crm_id, reopened.message) == (True, created.crm_id, "reopened")
    (task,) = portal.rep.tasks_of(target.id)
    assert task["hs_task_status"] == "NOT_STARTED"


def test_closing_tasks_completes_them(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    target = engagements[33]
    created = portal.connector(prime).apply(Plan(task_opens=(_open(target, "po_date_past"),)))
    task_id = str(created.results[0].crm_id)
    closes = (
        TaskClose(target.id, task_key(target.id, "po_date_past"), "po_date_past", task_id),
        TaskClose(target.id, task_key(target.id, "gone"), "gone", "999999992"),
    )
    portal.reset()
    result = portal.connector(prime).apply(Plan(task_closes=closes))
    assert [r.ok for r in result.results] == [True, True]  # a deleted task counts as closed
    assert _writes(portal) == {"POST objects/tasks/batch/update": 1}
    pulled = {e.id: e for e in mapped(portal.connector(prime).pull(PullWindow()))}
    assert pulled[target.id].open_tasks == ()


def test_an_empty_plan_makes_no_call(portal: Portal, prime: Playbook) -> None:
    connector = portal.connector(prime)
    assert connector.apply(Plan()).results == []
    assert connector.api_calls.total == 0


def test_a_failed_task_create_is_retried_by_reading_first(
    portal: Portal, prime: Playbook, engagements: list[Engagement]
) -> None:
    target = engagements[34]
    portal.sandbox.admin.inject(
        "status", status=503, path_prefix="/crm/v3/objects/tasks/batch/create"
    )
    connector = portal.connector(prime)
    connector.client.pacer.sleep = lambda _seconds: None
    result = connector.apply(Plan(task_opens=(_open(target, "sponsor_missing"),)))
    assert result.errors == []
    assert len(portal.rep.tasks_of(target.id)) == 1
    counts = portal.writes()
    assert counts["POST objects/tasks/batch/create"] == 2
    # The retry re-read the deal's tasks before creating again.
    assert counts["POST associations/deals/tasks/batch/read"] == 2
