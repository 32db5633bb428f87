"""Matching a connector's per-write results back to the plan, for counts and history.

Connectors report results in plan order, one per write, but a CRM may split or merge writes
(an autofill refused while the rest of the record was written, say). Matching by kind and
engagement, and by position only within that group, keeps the history honest either way: a
write with no result is never assumed to have succeeded.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

from servefirst.connectors.base import ApplyResult, Plan, RecordUpdate, TaskOpen, WriteResult
from servefirst.sync.state.records import ChangeRecord, RunTotals

NO_RESULT = "the connector reported no result for this write; it will be retried next run"
CONFLICT = "skipped: the field was filled in the CRM before the autofill could write it"


@dataclass(frozen=True)
class RecordProblem:
    """A write the CRM refused (or a record that could not be evaluated), in the CRM's words."""

    record_id: str
    message: str


@dataclass
class BatchOutcome:
    """What one applied (or dry-run) batch did."""

    changes: list[ChangeRecord] = field(default_factory=list)
    records_updated: int = 0
    fields_updated: int = 0
    tasks_opened: int = 0
    tasks_closed: int = 0
    tasks_updated: int = 0
    tasks_reopened: int = 0
    conflicts_skipped: int = 0
    problems: list[RecordProblem] = field(default_factory=list)


def _combine(results: list[WriteResult]) -> WriteResult:
    first = results[0]
    failed = [r for r in results if not r.ok and not r.skipped_conflict]
    return WriteResult(
        kind=first.kind,
        engagement_id=first.engagement_id,
        ok=not failed,
        crm_id=first.crm_id,
        message="; ".join(r.message for r in failed if r.message),
        skipped_conflict=any(r.skipped_conflict for r in results),
    )


class _Results:
    """Results grouped by (kind, engagement), handed out in plan order."""

    def __init__(self, result: ApplyResult) -> None:
        self._groups: dict[tuple[str, str], list[WriteResult]] = defaultdict(list)
        for item in result.results:
            self._groups[(item.kind, item.engagement_id)].append(item)

    def take(self, kind: str, engagement_id: str, position: int, planned: int) -> WriteResult:
        group = self._groups.get((kind, engagement_id), [])
        if not group:
            return WriteResult(kind, engagement_id, ok=False, message=NO_RESULT)
        if len(group) == planned:
            return group[position]
        return _combine(group)


def _count_planned(items: list[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


class Tallied(Protocol):
    """What keeps a run's counts: a sync's or a revert's report."""

    totals: RunTotals
    errors: list[RecordProblem]


def add_outcome(report: Tallied, outcome: BatchOutcome) -> None:
    """Add one applied (or dry-run) batch to a run's counts and record errors."""
    totals = report.totals
    totals.records_updated += outcome.records_updated
    totals.fields_updated += outcome.fields_updated
    totals.tasks_opened += outcome.tasks_opened
    totals.tasks_closed += outcome.tasks_closed
    totals.tasks_updated += outcome.tasks_updated
    totals.tasks_reopened += outcome.tasks_reopened
    totals.conflicts_skipped += outcome.conflicts_skipped
    totals.record_errors += len(outcome.problems)
    report.errors.extend(outcome.problems)


def dry_run_outcome(plan: Plan) -> BatchOutcome:
    """A plan nobody applied: changes kept with ``ok`` unknown, counted as they would be."""
    return _outcome(plan, None, message="dry run: not written", would_succeed=True)


def applied_outcome(plan: Plan, result: ApplyResult) -> BatchOutcome:
    return _outcome(plan, _Results(result), message="", would_succeed=False)


def unconfirmed_outcome(plan: Plan, reason: str) -> BatchOutcome:
    """A batch whose apply raised: nothing is known about what reached the CRM."""
    message = f"not confirmed, the run stopped: {reason}"
    return _outcome(plan, None, message=message, would_succeed=False)


def _update_outcome(
    update: RecordUpdate, res: WriteResult | None, message: str
) -> tuple[list[ChangeRecord], int, int, bool]:
    """History rows, fields written, autofill conflicts and failure of one record update.

    Connectors report an update whose only change was a refused autofill as not ``ok`` with
    ``skipped_conflict``: that is a conflict (the rep's value won), not a record error.
    """
    conflict = res is not None and res.skipped_conflict
    autofill_only = all(c.only_if_empty for c in update.changes)
    failed = res is not None and not res.ok and not (conflict and autofill_only)
    rows: list[ChangeRecord] = []
    written = conflicts = 0
    for change in update.changes:
        ok: bool | None
        if res is None:
            ok, note = None, message
        elif change.only_if_empty and conflict:
            ok, note = False, CONFLICT
            conflicts += 1
        elif failed:
            ok, note = False, res.message or "refused"
        else:
            ok, note = True, ""
            written += 1
        rows.append(
            ChangeRecord(
                record_id=change.engagement_id,
                kind="field",
                name=change.field,
                before=change.before,
                after=change.after,
                ok=ok,
                message=note,
            )
        )
    return rows, written, conflicts, failed


def _text(opened: TaskOpen) -> dict[str, object]:
    """What an opened task says, kept in history so that a revert can reopen it as it was."""
    task = opened.task
    return {
        "subject": task.subject,
        "description": task.description,
        "due": task.due.isoformat(),
        "owner_id": task.owner_id,
    }


def _outcome(
    plan: Plan, results: _Results | None, *, message: str, would_succeed: bool
) -> BatchOutcome:
    out = BatchOutcome()
    for update in plan.updates:
        res = None if results is None else results.take("update", update.engagement_id, 0, 1)
        field_records, written, conflicts, failed = _update_outcome(update, res, message)
        out.changes.extend(field_records)
        if res is None and would_succeed:
            written = len(update.changes)
        if failed and res is not None:
            out.problems.append(RecordProblem(update.engagement_id, res.message or "refused"))
        out.fields_updated += written
        out.records_updated += 1 if written else 0
        out.conflicts_skipped += conflicts

    planned = _count_planned([f"{kind}/{eid}" for kind, _, eid, *_ in _task_rows(plan)])
    seen: dict[str, int] = defaultdict(int)
    for kind, history, eid, rule, key, before, after, detail in _task_rows(plan):
        group = f"{kind}/{eid}"
        res = None if results is None else results.take(kind, eid, seen[group], planned[group])
        seen[group] += 1
        out.changes.append(
            ChangeRecord(
                record_id=eid,
                kind=history,
                name=rule,
                before=before,
                after=after,
                task_key=key,
                detail=detail,
                ok=None if res is None else res.ok,
                message=message if res is None else ("" if res.ok else res.message),
            )
        )
        done = would_succeed if res is None else res.ok
        if done:
            counter = _COUNTERS[history]
            setattr(out, counter, getattr(out, counter) + 1)
        elif res is not None:
            verb = _VERBS[history]
            out.problems.append(RecordProblem(eid, res.message or f"task not {verb}"))
    return out


#: History kind of a task write -> the outcome counter it adds to, and its verb for errors.
_COUNTERS = {
    "task_open": "tasks_opened",
    "task_reopen": "tasks_reopened",
    "task_close": "tasks_closed",
    "task_update": "tasks_updated",
}
_VERBS = {
    "task_open": "opened",
    "task_reopen": "reopened",
    "task_close": "closed",
    "task_update": "updated",
}
_TaskRow = tuple[str, str, str, str, str, object, object, dict[str, object] | None]


def _task_rows(plan: Plan) -> list[_TaskRow]:
    """(result kind, history kind, engagement, rule, key, before, after, detail) of each task
    write.

    A reopen is a ``task_open`` to the connector (the same upsert or status change) and its
    own kind in history and counts; a rewording keeps both texts, before and after.
    """
    rows: list[_TaskRow] = [
        (
            "task_open",
            "task_open" if o.reopen_task_id is None else "task_reopen",
            o.engagement_id,
            o.task.rule,
            o.task.key,
            o.reopen_task_id,
            o.task.subject,
            _text(o),
        )
        for o in plan.task_opens
    ]
    rows += [
        ("task_close", "task_close", c.engagement_id, c.rule, c.key, c.task_id, None, None)
        for c in plan.task_closes
    ]
    rows += [
        (
            "task_update",
            "task_update",
            u.engagement_id,
            u.rule,
            u.key,
            {"subject": u.before_subject, "description": u.before_description},
            {"subject": u.subject, "description": u.description},
            None,
        )
        for u in plan.task_updates
    ]
    return rows
