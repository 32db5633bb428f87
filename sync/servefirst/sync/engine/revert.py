"""Undo one run: put back what it wrote, where nobody has changed it since.

A revert reads the run's history (every field it wrote with the value before and after, every
task it opened or closed), re-reads those engagements from the CRM by id, and plans only the
writes that restore the run's own work:

* a plugin-owned field goes back to its value before the run, but only while the CRM still
  holds the value the run wrote; a later change (a rep's, a later sync's) is left alone and
  reported;
* a task the run opened (or reopened) is closed if it is still open; a task the run closed is
  reopened, with the text it was opened with, unless it is open again already; a task the run
  reworded gets its earlier words back while it still says what the run wrote.

The plan goes through the connector's ordinary ``apply``, and the revert is recorded as a run
of its own with every change before and after, so a revert can itself be reverted.
Rep-owned fields (an autofilled Operational Date) are never written back: the rep owns them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from servefirst.connectors.base import (
    PLUGIN_FIELDS,
    Connector,
    FieldChange,
    Plan,
    PullWindow,
    RecordUpdate,
    TaskClose,
    TaskOpen,
    TaskUpdate,
)
from servefirst.playbook.model import DesiredTask, Engagement, Health, TaskRef
from servefirst.sync.engine.outcome import (
    BatchOutcome,
    add_outcome,
    applied_outcome,
    dry_run_outcome,
    unconfirmed_outcome,
)
from servefirst.sync.engine.plan import same_value
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import mark_failed
from servefirst.sync.state.history import task_texts
from servefirst.sync.state.records import ChangeRecord, RunRecord, RunStatus
from servefirst.sync.state.store import StateStore

#: A pull window that matches no modification, so a pull returns exactly the ids asked for.
NEVER = dt.datetime(2999, 12, 31, tzinfo=dt.UTC)


@dataclass(frozen=True)
class LeftAlone:
    """A change of the reverted run that the revert does not undo, and why."""

    record_id: str
    kind: str  # "field" | "task_open" | "task_close"
    name: str  # the field, or the rule of the task
    reason: str
    current: object = None
    wanted: object = None


@dataclass
class RevertPlan:
    """What restoring a run takes, and what it leaves alone."""

    plan: Plan
    left_alone: list[LeftAlone] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def ids_to_read(changes: Iterable[ChangeRecord]) -> list[str]:
    """The engagements whose current values the revert must read: those the run wrote to."""
    return sorted({c.record_id for c in changes if c.ok})


def window(ids: Iterable[str]) -> PullWindow:
    """A pull of exactly these engagements, modified or not."""
    return PullWindow(modified_since=NEVER, ids=tuple(ids))


def _value(name: str, stored: object) -> object:
    """A value from history (JSON) as the neutral model holds it."""
    if name == "health" and isinstance(stored, str):
        return Health(stored)
    return stored


def _fields(changes: Iterable[ChangeRecord]) -> dict[tuple[str, str], tuple[object, object]]:
    """(engagement, field) -> (value before the run, value the run left), for written fields."""
    out: dict[tuple[str, str], tuple[object, object]] = {}
    for c in changes:
        if c.kind == "field" and c.ok:
            key = (c.record_id, c.name)
            first = out[key][0] if key in out else c.before
            out[key] = (first, c.after)
    return out


def _task(change: ChangeRecord, text: Mapping[str, object] | None) -> DesiredTask | None:
    """The task a run closed, as it was opened (its text comes from history)."""
    if text is None or change.task_key is None:
        return None
    owner = text.get("owner_id")
    return DesiredTask(
        key=change.task_key,
        rule=change.name,
        subject=str(text["subject"]),
        description=str(text.get("description") or ""),
        due=dt.date.fromisoformat(str(text["due"])),
        owner_id=None if owner is None else str(owner),
    )


def plan_revert(
    changes: list[ChangeRecord],
    current: Mapping[str, Engagement],
    task_text: Mapping[str, Mapping[str, object]],
) -> RevertPlan:
    """The writes that undo ``changes`` (one run's history) given the CRM's ``current`` state.

    ``task_text`` maps a task key to the text it was last opened with (from history), which a
    reopened task gets back.
    """
    out = RevertPlan(plan=Plan())
    out.names = {c.record_id: c.engagement_name for c in changes if c.engagement_name}
    out.names.update({e.id: e.name for e in current.values()})
    updates: dict[str, list[FieldChange]] = {}
    for (record_id, name), (before, after) in _fields(changes).items():
        engagement = current.get(record_id)
        if name not in PLUGIN_FIELDS:
            out.left_alone.append(
                LeftAlone(record_id, "field", name, "a rep-owned field: the rep decides", None)
            )
            continue
        if engagement is None:
            out.left_alone.append(LeftAlone(record_id, "field", name, _GONE))
            continue
        have = getattr(engagement.current, name)
        wrote = _value(name, after)
        if not same_value(have, wrote):
            reason = "changed in the CRM since that run; the later value is kept"
            out.left_alone.append(LeftAlone(record_id, "field", name, reason, have, before))
            continue
        updates.setdefault(record_id, []).append(
            FieldChange(record_id, name, have, _value(name, before))
        )
    tasks = _TaskPlan(current, task_text, out.left_alone)
    for c in changes:
        if c.ok and c.task_key is not None and c.kind in _TASK_KINDS:
            tasks.undo(c)
    out.plan = Plan(
        updates=tuple(RecordUpdate(rid, tuple(fcs)) for rid, fcs in updates.items()),
        task_opens=tuple(tasks.opens),
        task_closes=tuple(tasks.closes),
        task_updates=tuple(tasks.updates),
    )
    return out


#: Task writes a run can make, in history: each is undone by its opposite.
_TASK_KINDS = ("task_open", "task_reopen", "task_close", "task_update")


@dataclass
class _TaskPlan:
    """The task writes that undo a run's task writes, given the tasks the CRM holds now."""

    current: Mapping[str, Engagement]
    text: Mapping[str, Mapping[str, object]]
    left_alone: list[LeftAlone]
    opens: list[TaskOpen] = field(default_factory=list)
    closes: list[TaskClose] = field(default_factory=list)
    updates: list[TaskUpdate] = field(default_factory=list)

    def _leave(self, c: ChangeRecord, reason: str) -> None:
        self.left_alone.append(LeftAlone(c.record_id, c.kind, c.name, reason))

    def undo(self, c: ChangeRecord) -> None:
        key = c.task_key or ""
        engagement = self.current.get(c.record_id)
        if engagement is None:
            self._leave(c, _GONE)
            return
        open_now = next((t for t in engagement.open_tasks if t.key == key), None)
        if c.kind in ("task_open", "task_reopen"):
            if open_now is None:
                self._leave(c, "already closed")
            else:
                self.closes.append(TaskClose(c.record_id, key, c.name, open_now.task_id))
        elif c.kind == "task_update":
            self._reword(c, open_now)
        elif open_now is not None:
            self._leave(c, "open again already")
        else:
            self._reopen(c, engagement)

    def _reopen(self, c: ChangeRecord, engagement: Engagement) -> None:
        """Reopen a task the run closed, with the text it had."""
        done = next((t for t in engagement.completed_tasks if t.key == c.task_key), None)
        text = dict(self.text.get(c.task_key or "", {}))
        if done is not None:
            text.update({k: v for k, v in done.model_dump().items() if k in _WORDS and v})
        task = _task(c, text if "subject" in text and "due" in text else None)
        if task is None:
            self._leave(c, "its text is not in the history, so it cannot be reopened as it was")
            return
        task_id = c.before if isinstance(c.before, str) else None
        self.opens.append(TaskOpen(c.record_id, task, reopen_task_id=task_id))

    def _reword(self, c: ChangeRecord, open_now: TaskRef | None) -> None:
        """Put back the words a run rewrote, while the task still says what the run wrote."""
        before, after = c.before, c.after
        if open_now is None or not isinstance(before, dict) or not isinstance(after, dict):
            self._leave(c, "no longer open")
            return
        if not (
            same_value(open_now.subject, after.get("subject"))
            and same_value(open_now.description, after.get("description"))
        ):
            self._leave(c, "reworded in the CRM since that run; the later words are kept")
            return
        self.updates.append(
            TaskUpdate(
                c.record_id,
                open_now.key,
                c.name,
                open_now.task_id,
                subject=str(before.get("subject") or ""),
                description=str(before.get("description") or ""),
                before_subject=open_now.subject,
                before_description=open_now.description,
            )
        )


_WORDS = ("subject", "description")


_GONE = "no longer in the CRM (deleted, or moved out of the managed pipeline)"


@dataclass
class RevertReport:
    """A finished revert: its own run's report, and what it left alone."""

    run: RunReport
    reverted_run_id: int
    left_alone: list[LeftAlone] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def run_revert(
    connector: Connector,
    store: StateStore,
    target: RunRecord,
    *,
    as_of: dt.date,
    dry_run: bool,
    run_id: int | None = None,
) -> RevertReport:
    """Revert run ``target`` through ``connector``; recorded as a run of its own.

    Like a sync, it never raises for a failed run: the failure is in the report and the
    history. ``run_id`` hands over a run row the caller opened already.
    """
    started = time.monotonic()
    if run_id is None:
        run_id = store.start_run(
            target.connection,
            connector.crm,
            as_of,
            dry_run=dry_run,
            full_scan=False,
            reverts_run_id=target.id,
        )
    report = RunReport(run_id, target.connection, connector.crm, dry_run, False, as_of)
    out = RevertReport(report, target.id)
    calls0 = connector.api_calls
    read0, write0 = calls0.read, calls0.write
    try:
        _execute(connector, store, target, out)
    except Exception as exc:
        mark_failed(report, exc)
    calls = connector.api_calls
    report.totals.api_calls_read = calls.read - read0
    report.totals.api_calls_write = calls.write - write0
    report.duration_seconds = time.monotonic() - started
    store.finish_run(
        run_id,
        status=report.status,
        totals=report.totals,
        duration_seconds=report.duration_seconds,
        error_message=report.error_message,
    )
    return out


def _execute(connector: Connector, store: StateStore, target: RunRecord, out: RevertReport) -> None:
    report = out.run
    changes = store.get_changes(target.id)
    ids = ids_to_read(changes)
    current: dict[str, Engagement] = {}
    if ids:
        wanted = set(ids)
        for item in connector.pull(window(ids)):
            if isinstance(item, Engagement) and item.id in wanted:
                current[item.id] = item
    closed = [c.task_key for c in changes if c.kind == "task_close" and c.ok and c.task_key]
    texts = task_texts(store.engine, target.connection, closed)
    planned = plan_revert(changes, current, texts)
    out.left_alone, out.names = planned.left_alone, planned.names
    outcome = _apply(connector, store, report, planned)
    kept = [
        ChangeRecord(
            record_id=item.record_id,
            kind=item.kind,
            name=item.name,
            before=item.current,
            after=item.wanted,
            ok=None,
            message=f"left alone: {item.reason}",
        )
        for item in planned.left_alone
    ]
    store.record_changes(report.run_id, [*outcome.changes, *kept], planned.names)
    report.totals.engagements_read = len(current)
    add_outcome(report, outcome)
    report.totals.conflicts_skipped += len(planned.left_alone)
    if report.dry_run:
        report.status = RunStatus.DRY_RUN
    else:
        report.status = RunStatus.PARTIAL if outcome.problems else RunStatus.OK


def _apply(
    connector: Connector, store: StateStore, report: RunReport, planned: RevertPlan
) -> BatchOutcome:
    if report.dry_run:
        return dry_run_outcome(planned.plan)
    if planned.plan.empty:
        return BatchOutcome()
    try:
        result = connector.apply(planned.plan)
    except BaseException as exc:
        unconfirmed = unconfirmed_outcome(planned.plan, str(exc) or repr(exc))
        store.record_changes(report.run_id, unconfirmed.changes, planned.names)
        raise
    return applied_outcome(planned.plan, result)
