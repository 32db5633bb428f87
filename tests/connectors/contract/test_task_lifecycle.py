"""Tasks follow the playbook and cannot be quietly dismissed: the same scenarios on both CRMs.

A changed task title reaches the open tasks on the next run; a task a rep marks done while its
problem persists comes back (the same task, saying why) on the next incremental run; a problem
whose task changes key never has two open tasks, even when the run stops between the writes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from servefirst.connectors.base import Plan, TaskClose, TaskOpen
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import DesiredTask, task_key
from servefirst.sync.connectors import open_connector
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.engine.tasks import REOPEN_NOTE
from servefirst.sync.service import sync_connection

TODAY = dt.datetime.now(dt.UTC).date()
BARE = {"stage": "diagnose", "po_date": TODAY + dt.timedelta(days=60)}


def sync(crm: Any, playbook: Playbook | None = None) -> RunReport:
    report = sync_connection(crm.settings, playbook or crm.playbook, None, SyncOptions(as_of=TODAY))
    assert report.errors == [], report.errors
    return report


def retitled(playbook: Playbook, rule: str, title: str) -> Playbook:
    rules = dict(playbook.rules)
    rules[rule] = rules[rule].model_copy(update={"task_title": title})
    return playbook.model_copy(update={"rules": rules})


def test_a_changed_task_title_reaches_the_open_task_on_the_next_run(crm: Any) -> None:
    engagement = crm.make(name="Title change", **BARE)
    sync(crm)
    key = task_key(engagement, "sponsor_missing")
    (before,) = [t for t in crm.rep.tasks() if t.key == key]
    changed = retitled(crm.playbook, "sponsor_missing", "Find the sponsor of {engagement}")
    report = sync(crm, changed)
    assert report.totals.tasks_updated >= 1
    assert report.totals.tasks_opened == report.totals.tasks_closed == 0
    (after,) = [t for t in crm.rep.tasks() if t.key == key]
    assert (after.task_id, after.open, after.subject) == (
        before.task_id,
        True,
        "Find the sponsor of Title change",
    )
    assert sync(crm, changed).totals.tasks_updated == 0  # it says it now: nothing to rewrite


def test_a_task_marked_done_without_a_fix_comes_back_on_the_next_run(crm: Any) -> None:
    engagement = crm.make(name="Dismissed", **BARE)
    sync(crm)
    sync(crm)  # re-reads its own writes; the watermark now sits after them
    key = task_key(engagement, "sponsor_missing")
    (task,) = [t for t in crm.rep.tasks() if t.key == key]
    crm.rep.complete_task(task.task_id)

    report = sync(crm)  # incremental: completing a task does not touch the engagement
    assert not report.full_scan
    assert report.totals.tasks_reopened == 1 and report.totals.tasks_opened == 0
    (back,) = [t for t in crm.rep.tasks() if t.key == key]
    assert (back.task_id, back.open) == (task.task_id, True)
    assert back.body.startswith(REOPEN_NOTE)
    assert sum(1 for t in crm.rep.tasks() if t.key == key) == 1
    sync(crm)  # re-reads what it wrote
    quiet = sync(crm)
    assert quiet.totals.tasks_reopened == quiet.totals.tasks_updated == 0
    assert quiet.totals.api_calls_write == 0


def _connector(crm: Any) -> Any:
    name = next(iter(crm.settings.connections))
    return open_connector(name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir)


def _refuse_next_task_write(crm: Any, stop_at: str) -> None:
    """The CRM refuses the next task close (or the next task create) outright."""
    if crm.name == "salesforce":
        base = "/services/data/v59.0/composite/sobjects"
        prefix = base if stop_at == "close" else f"{base}/Task/"
    else:
        prefix = "/crm/v3/objects/tasks/batch/" + ("update" if stop_at == "close" else "create")
    crm.sandbox.admin.inject("status", count=1, status=400, path_prefix=prefix)


@pytest.mark.parametrize("stop_at", ["close", "open"])
def test_a_task_changing_key_never_leaves_two_open_even_if_the_run_stops(
    crm: Any, stop_at: str
) -> None:
    engagement = crm.make(name="Regrouped", **BARE)
    old = DesiredTask(
        key=task_key(engagement, "operational_date_missing"),
        rule="operational_date_missing",
        subject="Agree the Operational Date",
        description="Old task, one per rule.",
        due=TODAY,
    )
    new = old.model_copy(
        update={"key": task_key(engagement, "operational_date"), "rule": "operational_date"}
    )
    connector = _connector(crm)
    try:
        (opened,) = connector.apply(Plan(task_opens=(TaskOpen(engagement, old),))).results
        plan = Plan(
            task_opens=(TaskOpen(engagement, new),),
            task_closes=(TaskClose(engagement, old.key, old.rule, str(opened.crm_id)),),
        )
        _refuse_next_task_write(crm, stop_at)
        failed = connector.apply(plan)
        assert failed.errors  # the refused write, and on a refused close the held-back open
        crm.sandbox.admin.clear_faults()
        open_keys = [t.key for t in crm.rep.tasks() if t.open]
        assert len(open_keys) == (1 if stop_at == "close" else 0), open_keys
        result = connector.apply(plan)  # the next run replays the same writes
        assert result.errors == []
    finally:
        connector.close()
    assert [t.key for t in crm.rep.tasks() if t.open] == [new.key]
