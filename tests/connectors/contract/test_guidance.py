"""What reps see, proven on both CRMs: coherent guidance, plain words, timetables, waivers.

These are the "done when" scenarios of the guidance work: the engagement whose findings once
contradicted each other gets one task and findings that agree, and setting the dates they
recommend clears them; the findings field reads like a colleague's note (no rule ids, no
brackets); every open engagement shows its timetable; a waived finding opens no task, closes
the one it had, and stays waived.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.connectors.contract.test_contract import CRITERIA, SCENARIOS

from servefirst.connectors.base import PullWindow, mapped
from servefirst.playbook.definition import RULE_IDS
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, task_key
from servefirst.sync.connectors import open_connector
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import sync_connection

TODAY = dt.datetime.now(dt.UTC).date()
DATE_RULES = {
    "operational_date_missing",
    "operational_date_before_po",
    "operational_date_past",
    "operational_date_infeasible",
    "po_date_past",
}


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def sync(crm: Any) -> RunReport:
    report = sync_connection(crm.settings, crm.playbook, None, SyncOptions(as_of=TODAY))
    assert report.errors == [], report.errors
    return report


def pulled(crm: Any, engagement_id: str) -> Engagement:
    name = next(iter(crm.settings.connections))
    connector = open_connector(
        name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir
    )
    try:
        return next(e for e in mapped(connector.pull(PullWindow())) if e.id == engagement_id)
    finally:
        connector.close()


def open_keys_of(crm: Any, engagement_id: str) -> list[str]:
    prefix = f"servefirst:{engagement_id}:"
    return [t.key for t in crm.rep.tasks() if t.open and t.key.startswith(prefix)]


def test_the_contradictory_engagement_gets_one_task_and_its_dates_clear_it(crm: Any) -> None:
    # Issue 10's engagement: in Deliver, PO date in 23 days, Operational Date in 13.
    engagement_id = crm.make(
        name="Contradiction",
        stage="deliver",
        po_date=days(23),
        operational_date=days(13),
        criteria=CRITERIA,
        sponsor=True,
    )
    report = sync(crm)
    (summary,) = [e for e in report.engagements if e.id == engagement_id]
    rules = {f.rule for f in summary.findings}
    assert rules and rules <= DATE_RULES
    assert len(open_keys_of(crm, engagement_id)) == 1

    assessment = evaluate(pulled(crm, engagement_id), crm.playbook, TODAY)
    dated = [f for f in assessment.findings if f.rule in DATE_RULES]
    recommended = {(f.recommended_po_date, f.recommended_operational_date) for f in dated}
    assert len(recommended) == 1  # every date finding asks for the same dates
    ((po_date, operational_date),) = recommended
    if po_date is not None:
        crm.rep.set_po_date(engagement_id, po_date)
    if operational_date is not None:
        crm.rep.set_operational_date(engagement_id, operational_date)

    after = sync(crm)
    (summary,) = [e for e in after.engagements if e.id == engagement_id]
    assert [f.rule for f in summary.findings if f.rule in DATE_RULES] == []
    assert open_keys_of(crm, engagement_id) == []


def test_findings_read_plainly_and_every_open_engagement_shows_its_timetable(crm: Any) -> None:
    ids = {name: crm.make(name=name, **spec) for name, spec in SCENARIOS.items()}
    sync(crm)
    for name, engagement_id in ids.items():
        _, findings, _ = crm.rep.plugin_fields(engagement_id)
        text = findings or ""
        assert "[" not in text and "]" not in text, name
        assert not any(rule in text for rule in RULE_IDS), name
        timetable = crm.rep.text_field(engagement_id, "timetable")
        if SCENARIOS[name]["stage"] in ("discover", "diagnose", "design", "deliver"):
            assert timetable, name
            assert "operational date" in timetable.lower(), name


def test_a_waived_finding_opens_no_task_closes_its_task_and_stays_waived(crm: Any) -> None:
    engagement_id = crm.make(name="Sponsor on leave", stage="diagnose", po_date=days(60))
    sync(crm)
    sponsor_task = task_key(engagement_id, "sponsor_missing")
    assert sponsor_task in open_keys_of(crm, engagement_id)

    until = days(30)
    crm.rep.waive(engagement_id, f"Sponsor until {until.isoformat()}: the sponsor is on leave")
    report = sync(crm)
    (summary,) = [e for e in report.engagements if e.id == engagement_id]
    assert [(w.rule, w.until) for w in summary.waived] == [("sponsor_missing", until)]
    assert "sponsor_missing" not in {f.rule for f in summary.findings}
    assert sponsor_task not in open_keys_of(crm, engagement_id)
    assert report.totals.tasks_closed >= 1

    sync(crm)  # re-reads its own writes
    again = sync(crm)
    assert again.totals.tasks_reopened == again.totals.tasks_opened == 0
    assert sponsor_task not in open_keys_of(crm, engagement_id)
