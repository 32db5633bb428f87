"""The contract every connector passes: same neutral scenarios, same findings, same writes.

Each test runs once per CRM sandbox. The expected values are written once, in neutral terms:
if Salesforce and HubSpot ever disagree, one of the connectors maps something differently.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from servefirst.connectors.base import Plan, TaskOpen
from servefirst.playbook.model import DesiredTask, task_key
from servefirst.sync.connectors import open_connector
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import sync_connection

TODAY = dt.datetime.now(dt.UTC).date()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


CRITERIA = "- [ ] Setup from 40 to 10 minutes"
SCENARIOS: dict[str, dict[str, Any]] = {
    "Healthy design": {
        "stage": "design",
        "po_date": days(30),
        "operational_date": days(200),
        "criteria": CRITERIA,
        "sponsor": True,
    },
    "Bare diagnose": {"stage": "diagnose", "po_date": days(60)},
    "Design without criteria": {
        "stage": "design",
        "po_date": days(30),
        "operational_date": days(200),
        "sponsor": True,
    },
    "Works before it is bought": {
        "stage": "deliver",
        "po_date": days(30),
        "operational_date": days(20),
        "criteria": CRITERIA,
        "sponsor": True,
    },
    "Overdue delivery": {
        "stage": "deliver",
        "po_date": days(-10),
        "operational_date": days(-1),
        "criteria": CRITERIA,
        "sponsor": True,
    },
    "Won, success unconfirmed": {
        "stage": "won",
        "po_date": days(-60),
        "operational_date": days(-20),
        "criteria": CRITERIA,
        "sponsor": True,
    },
    "Lost": {"stage": "lost", "po_date": days(-5)},
}
EXPECTED: dict[str, tuple[str | None, list[str]]] = {
    "Healthy design": ("on_track", []),
    "Bare diagnose": ("off_track", ["operational_date_missing", "sponsor_missing"]),
    "Design without criteria": ("off_track", ["success_criteria_missing"]),
    "Works before it is bought": (
        "off_track",
        ["operational_date_before_po", "operational_date_infeasible"],
    ),
    "Overdue delivery": ("off_track", ["operational_date_past", "po_date_past"]),
    "Won, success unconfirmed": ("at_risk", ["success_unconfirmed"]),
    "Lost": (None, []),
}
#: The tasks each scenario opens: one per rule, or one per task group (``timetable``) for the
#: date findings one new Operational Date fixes.
TASK_RULES = {
    "Bare diagnose": ["timetable", "sponsor_missing"],
    "Design without criteria": ["success_criteria_missing"],
    "Works before it is bought": ["timetable"],
    "Overdue delivery": ["timetable"],
    "Won, success unconfirmed": ["success_unconfirmed"],
}
#: Lines of the findings field: one per finding, the date findings of a group on one line.
NOTE_LINES = {
    "Healthy design": 0,
    "Bare diagnose": 2,
    "Design without criteria": 1,
    "Works before it is bought": 1,
    "Overdue delivery": 1,
    "Won, success unconfirmed": 1,
}


def sync(crm: Any) -> RunReport:
    report = sync_connection(crm.settings, crm.playbook, None, SyncOptions(as_of=TODAY))
    assert report.errors == [], report.errors
    return report


def seed(crm: Any) -> dict[str, str]:
    return {name: crm.make(name=name, **spec) for name, spec in SCENARIOS.items()}


def test_same_scenarios_same_findings_and_writes(crm: Any) -> None:
    ids = seed(crm)
    report = sync(crm)
    by_id = {e.id: e for e in report.engagements}
    got = {
        name: (by_id[i].health, sorted(f.rule for f in by_id[i].findings))
        for name, i in ids.items()
    }
    assert got == EXPECTED
    totals = report.totals
    assert totals.engagements_read == len(SCENARIOS)
    assert totals.records_updated == len(SCENARIOS) - 1  # closed lost is left alone
    assert totals.tasks_opened == sum(len(r) for r in TASK_RULES.values())

    for name, engagement_id in ids.items():
        health, findings, slips = crm.rep.plugin_fields(engagement_id)
        expected_health, expected_rules = EXPECTED[name]
        assert health == expected_health, name
        if name == "Lost":
            assert (findings, slips) == (None, None)
            continue
        assert slips == 0
        lines = (findings or "").splitlines()
        assert len(lines) == NOTE_LINES[name], name
        assert all(line.startswith(("Needs action now: ", "Worth a look: ")) for line in lines)
        assert not any(rule in (findings or "") for rule in expected_rules)
        assert "[" not in (findings or "")

    keys = crm.rep.open_task_keys()
    assert Counter(keys) == Counter(
        task_key(ids[name], rule) for name, rules in TASK_RULES.items() for rule in rules
    )


def test_nothing_new_means_no_write(crm: Any) -> None:
    seed(crm)
    sync(crm)
    sync(crm)  # may re-read what the first run wrote; must not write it again
    quiet = sync(crm)
    assert quiet.totals.api_calls_write == 0
    assert (
        quiet.totals.fields_updated == quiet.totals.tasks_opened == quiet.totals.tasks_closed == 0
    )


def test_a_rep_fix_closes_its_task_and_only_that(crm: Any) -> None:
    ids = seed(crm)
    sync(crm)
    crm.rep.set_operational_date(ids["Bare diagnose"], days(300))
    report = sync(crm)
    assert report.totals.tasks_closed == 1
    assert report.totals.tasks_opened == 0
    keys = set(crm.rep.open_task_keys())
    assert task_key(ids["Bare diagnose"], "timetable") not in keys
    assert task_key(ids["Bare diagnose"], "sponsor_missing") in keys
    health, findings, _ = crm.rep.plugin_fields(ids["Bare diagnose"])
    assert (health, findings is not None and "has no sponsor" in findings) == ("off_track", True)


def test_replayed_task_open_never_duplicates(crm: Any) -> None:
    ids = seed(crm)
    engagement_id = ids["Bare diagnose"]
    task = DesiredTask(
        key=task_key(engagement_id, "sponsor_missing"),
        rule="sponsor_missing",
        subject="Name the sponsor",
        description="Who owns the problem with you?",
        due=days(3),
    )
    plan = Plan(task_opens=(TaskOpen(engagement_id=engagement_id, task=task),))
    name = next(iter(crm.settings.connections))
    connector = open_connector(
        name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir
    )
    try:
        first = connector.apply(plan)
        again = connector.apply(plan)
    finally:
        connector.close()
    assert [r.ok for r in first.results + again.results] == [True, True]
    assert crm.rep.open_task_keys() == [task.key]
