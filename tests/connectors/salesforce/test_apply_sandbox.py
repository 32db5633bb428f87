"""Applying plans through the real simple-salesforce: collections of 200, upserts, conflicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simple_salesforce.format import format_soql

from servefirst.connectors.base import (
    FieldChange,
    Plan,
    PullWindow,
    RecordUpdate,
    TaskClose,
    TaskOpen,
    mapped,
)
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.model import DesiredTask, Engagement, Health, Severity, task_key

Counted = Callable[[RunningSandbox, str], int]
N = 450  # three collections: 200 + 200 + 50
COLLECTIONS = "PATCH composite/sobjects"


@pytest.fixture(scope="module")
def org(
    new_sandbox: Callable[..., RunningSandbox],
    connector_for: Callable[..., SalesforceConnector],
    rep: Callable[[RunningSandbox], Any],
) -> Iterator[dict[str, Any]]:
    sandbox = new_sandbox(engagements=N)
    connector = connector_for(sandbox)
    engagements = sorted(mapped(connector.pull(PullWindow())), key=lambda e: e.id)
    sf = rep(sandbox)
    yield {"sandbox": sandbox, "connector": connector, "engagements": engagements, "sf": sf}
    connector.close()
    sf.session.close()
    sandbox.stop()


def pulled(connector: SalesforceConnector) -> dict[str, Engagement]:
    return {e.id: e for e in mapped(connector.pull(PullWindow()))}


def update(engagement_id: str, **values: Any) -> RecordUpdate:
    return RecordUpdate(
        engagement_id, tuple(FieldChange(engagement_id, k, None, v) for k, v in values.items())
    )


def opening(e: Engagement, rule: str, subject: str = "Agree the Operational Date") -> TaskOpen:
    return TaskOpen(
        e.id,
        DesiredTask(
            key=task_key(e.id, rule),
            rule=rule,
            subject=subject,
            description="When will the solution be working for your sponsor?",
            due=dt.date(2026, 12, 1),
            owner_id=e.owner_id,
        ),
    )


def tasks_with_keys(sf: Any, keys: list[str]) -> list[dict[str, Any]]:
    query = format_soql(
        "SELECT Id, ServeFirst_Key__c, Status, Subject, WhatId, OwnerId, ActivityDate, Priority "
        "FROM Task WHERE ServeFirst_Key__c IN {}",
        keys,
    )
    return list(sf.query(query)["records"])


def test_n_updates_cost_ceil_n_over_200_write_calls(org: dict[str, Any], counted: Counted) -> None:
    sandbox, connector = org["sandbox"], org["connector"]
    engagements: list[Engagement] = org["engagements"]
    assert len(engagements) == N
    health = (Health.ON_TRACK, Health.AT_RISK, Health.OFF_TRACK)
    plan = Plan(
        updates=tuple(
            update(e.id, health=health[i % 3], findings=f"finding {i}", slips=i % 4)
            for i, e in enumerate(engagements)
        )
    )
    before_calls, before = connector.api_calls.write, counted(sandbox, COLLECTIONS)
    result = connector.apply(plan)
    assert counted(sandbox, COLLECTIONS) - before == 3
    assert connector.api_calls.write - before_calls == 3
    assert result.errors == [] and len(result.results) == N
    assert [r.engagement_id for r in result.results] == [e.id for e in engagements]
    now = pulled(connector)
    for i, e in enumerate(engagements):
        current = now[e.id].current
        assert (current.health, current.findings, current.slips) == (
            health[i % 3],
            f"finding {i}",
            i % 4,
        )


def test_clearing_plugin_fields_writes_nulls(org: dict[str, Any]) -> None:
    connector = org["connector"]
    target = org["engagements"][0].id
    assert connector.apply(Plan(updates=(update(target, health=None, findings=None),))).errors == []
    current = pulled(connector)[target].current
    assert (current.health, current.findings) == (None, None)


def test_task_upsert_replay_never_duplicates(org: dict[str, Any], counted: Counted) -> None:
    sandbox, connector, sf = org["sandbox"], org["connector"], org["sf"]
    targets: list[Engagement] = org["engagements"][10:13]
    plan = Plan(task_opens=tuple(opening(e, "operational_date_missing") for e in targets))
    keys = [o.task.key for o in plan.task_opens]
    before = counted(sandbox, COLLECTIONS)
    first = connector.apply(plan)
    replay = connector.apply(plan)  # e.g. the run crashed before recording the first apply
    assert counted(sandbox, COLLECTIONS) - before == 2
    assert first.errors == [] and replay.errors == []
    assert [r.crm_id for r in first.results] == [r.crm_id for r in replay.results]
    rows = tasks_with_keys(sf, keys)
    assert sorted(r["ServeFirst_Key__c"] for r in rows) == sorted(keys)
    row = next(r for r in rows if r["WhatId"] == targets[0].id)
    assert (row["Status"], row["Priority"], row["ActivityDate"]) == (
        "Not Started",
        "High",
        "2026-12-01",
    )
    assert row["OwnerId"] == targets[0].owner_id
    open_now = pulled(connector)[targets[0].id].open_tasks
    assert [(t.key, t.rule) for t in open_now] == [(keys[0], "operational_date_missing")]


def test_closing_a_task_completes_it_and_reopening_reuses_it(org: dict[str, Any]) -> None:
    connector, sf = org["connector"], org["sf"]
    target: Engagement = org["engagements"][20]
    opened = connector.apply(Plan(task_opens=(opening(target, "sponsor_missing"),)))
    task_id = opened.results[0].crm_id
    assert task_id
    key = task_key(target.id, "sponsor_missing")
    closed = connector.apply(
        Plan(task_closes=(TaskClose(target.id, key, "sponsor_missing", task_id),))
    )
    assert closed.errors == [] and closed.results[0].kind == "task_close"
    assert tasks_with_keys(sf, [key])[0]["Status"] == "Completed"
    assert pulled(connector)[target.id].open_tasks == ()
    reopened = connector.apply(Plan(task_opens=(opening(target, "sponsor_missing"),)))
    assert reopened.results[0].crm_id == task_id
    assert tasks_with_keys(sf, [key])[0]["Status"] == "Not Started"


def test_autofill_is_rechecked_at_write_time(org: dict[str, Any]) -> None:
    connector, sf = org["connector"], org["sf"]
    empty, filled_by_rep, only_autofill = (e.id for e in org["engagements"][30:33])
    for opp in (empty, filled_by_rep, only_autofill):
        sf.Opportunity.update(opp, {"Operational_Date__c": None})
    proposal = dt.date(2027, 5, 1)

    def autofill(opp: str, **values: Any) -> RecordUpdate:
        changes = [FieldChange(opp, "operational_date", None, proposal, only_if_empty=True)]
        changes += [FieldChange(opp, k, None, v) for k, v in values.items()]
        return RecordUpdate(opp, tuple(changes))

    plan = Plan(
        updates=(
            autofill(empty),
            autofill(filled_by_rep, health=Health.OFF_TRACK),
            autofill(only_autofill),
        )
    )
    # Between the pull and the write, reps agree dates with their sponsors.
    sf.Opportunity.update(filled_by_rep, {"Operational_Date__c": "2027-01-15"})
    sf.Opportunity.update(only_autofill, {"Operational_Date__c": "2027-02-20"})
    result = connector.apply(plan)
    by_id = {r.engagement_id: r for r in result.results}
    assert by_id[empty].ok and not by_id[empty].skipped_conflict
    assert by_id[filled_by_rep].ok and by_id[filled_by_rep].skipped_conflict
    assert not by_id[only_autofill].ok and by_id[only_autofill].skipped_conflict
    assert result.errors == []
    now = pulled(connector)
    assert now[empty].operational_date == proposal
    assert now[filled_by_rep].operational_date == dt.date(2027, 1, 15)
    assert now[filled_by_rep].current.health is Health.OFF_TRACK
    assert now[only_autofill].operational_date == dt.date(2027, 2, 20)


def test_per_record_failures_become_results_with_salesforce_messages(org: dict[str, Any]) -> None:
    connector = org["connector"]
    good, other = org["engagements"][40], org["engagements"][41]
    missing = good.id[:-6] + "ZZZAAA"  # well-formed, but no such opportunity
    bad_owner = opening(other, "po_date_past")
    bad_owner = TaskOpen(
        other.id, bad_owner.task.model_copy(update={"owner_id": "001000000000000AAA"})
    )
    plan = Plan(
        updates=(
            update(good.id, findings="ok"),
            update(missing, findings="nobody home"),
            RecordUpdate(
                good.id, (FieldChange(good.id, "stage", "design", "deliver", only_if_empty=True),)
            ),
        ),
        task_opens=(bad_owner, opening(good, "po_date_past")),
    )
    result = connector.apply(plan)  # never raises for a record
    kinds = [(r.kind, r.ok) for r in result.results]
    assert kinds == [
        ("update", True),
        ("update", False),
        ("update", False),
        ("task_open", False),
        ("task_open", True),
    ]
    messages = [r.message for r in result.errors]
    assert len(messages) == 3 and all(messages)
    assert "never writes the field 'stage'" in messages[1]
    assert any(
        code in messages[0]
        for code in (
            "INVALID_CROSS_REFERENCE_KEY",
            "ENTITY_IS_DELETED",
            "NOT_FOUND",
            "MALFORMED_ID",
        )
    )
    assert "OwnerId" in messages[2] or "owner" in messages[2].lower()


def test_empty_plan_makes_no_call(org: dict[str, Any]) -> None:
    connector = org["connector"]
    before = connector.api_calls
    assert connector.apply(Plan()).results == []
    assert connector.api_calls == before


def test_a_task_groups_priority_follows_its_worst_finding(org: dict[str, Any]) -> None:
    """The date task of a group (no rule of that name) is High when one of its findings is an
    error, Normal when all are warnings."""
    connector, sf = org["connector"], org["sf"]
    high, normal = org["engagements"][20:22]
    opens = tuple(
        TaskOpen(
            o.engagement_id,
            o.task.model_copy(update={"severity": severity, "rules": ("po_date_past",)}),
        )
        for o, severity in (
            (opening(high, "timetable"), Severity.ERROR),
            (opening(normal, "timetable"), Severity.WARNING),
        )
    )
    assert connector.apply(Plan(task_opens=opens)).errors == []
    rows = tasks_with_keys(sf, [o.task.key for o in opens])
    priority = {r["WhatId"]: r["Priority"] for r in rows}
    assert (priority[high.id], priority[normal.id]) == ("High", "Normal")
