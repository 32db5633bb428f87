"""Matching connector results back to the plan: conflicts, refusals, missing results."""

from __future__ import annotations

import datetime as dt

from servefirst.connectors.base import (
    ApplyResult,
    FieldChange,
    Plan,
    RecordUpdate,
    TaskClose,
    TaskOpen,
    WriteResult,
)
from servefirst.playbook.model import DesiredTask
from servefirst.sync.engine.outcome import CONFLICT, NO_RESULT, applied_outcome, dry_run_outcome

DAY = dt.date(2026, 3, 2)


def _task(eid: str, rule: str) -> TaskOpen:
    key = f"servefirst:{eid}:{rule}"
    return TaskOpen(eid, DesiredTask(key=key, rule=rule, subject=rule, description="", due=DAY))


PLAN = Plan(
    updates=(
        RecordUpdate("A", (FieldChange("A", "operational_date", None, DAY, only_if_empty=True),)),
        RecordUpdate(
            "B",
            (
                FieldChange("B", "health", None, "off_track"),
                FieldChange("B", "operational_date", None, DAY, only_if_empty=True),
            ),
        ),
        RecordUpdate("C", (FieldChange("C", "health", "on_track", "at_risk"),)),
        RecordUpdate("D", (FieldChange("D", "health", None, "on_track"),)),
    ),
    task_opens=(_task("B", "sponsor_missing"), _task("B", "operational_date_past")),
    task_closes=(TaskClose("C", "servefirst:C:x", "x", "T1"),),
)


def test_results_are_matched_by_kind_engagement_and_position() -> None:
    result = ApplyResult(
        [
            WriteResult("update", "A", ok=False, message="filled", skipped_conflict=True),
            WriteResult("update", "B", ok=True, skipped_conflict=True),
            WriteResult("update", "C", ok=False, message="FIELD_INTEGRITY_EXCEPTION: bad value"),
            # no result at all for D
            WriteResult("task_open", "B", ok=True),
            WriteResult("task_open", "B", ok=False, message="owner inactive"),
            WriteResult("task_close", "C", ok=True),
        ]
    )
    out = applied_outcome(PLAN, result)

    assert out.conflicts_skipped == 2  # A's and B's autofill: the reps' values won
    assert out.fields_updated == 1  # B's health
    assert out.records_updated == 1
    assert (out.tasks_opened, out.tasks_closed) == (1, 1)
    assert [(p.record_id, p.message) for p in out.problems] == [
        ("C", "FIELD_INTEGRITY_EXCEPTION: bad value"),
        ("D", NO_RESULT),
        ("B", "owner inactive"),
    ]
    rows = {(c.record_id, c.kind, c.name): (c.ok, c.message) for c in out.changes}
    assert rows[("A", "field", "operational_date")] == (False, CONFLICT)
    assert rows[("B", "field", "health")] == (True, "")
    assert rows[("C", "field", "health")] == (False, "FIELD_INTEGRITY_EXCEPTION: bad value")
    assert rows[("B", "task_open", "operational_date_past")] == (False, "owner inactive")
    assert rows[("C", "task_close", "x")] == (True, "")


def test_a_dry_run_counts_what_it_would_do_and_confirms_nothing() -> None:
    out = dry_run_outcome(PLAN)
    assert (out.fields_updated, out.records_updated) == (5, 4)
    assert (out.tasks_opened, out.tasks_closed) == (2, 1)
    assert out.problems == []
    assert all(c.ok is None for c in out.changes)
