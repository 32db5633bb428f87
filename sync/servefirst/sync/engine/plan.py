"""Diffing: from what the playbook wants and what the CRM holds, the fewest writes.

Pure functions, no I/O: the engine feeds them one engagement at a time. Every guarantee a rep
notices lives here or in ``tasks``: a value is written only where a plugin-owned field differs,
a rep-owned field is only ever autofilled while empty, and a task key holds at most one open
task.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from servefirst.connectors.base import (
    PLUGIN_FIELDS,
    FieldChange,
    Plan,
    RecordUpdate,
    TaskClose,
    TaskOpen,
    TaskUpdate,
)
from servefirst.playbook.model import Assessment, Engagement, PluginFields
from servefirst.sync.engine.tasks import plan_tasks
from servefirst.sync.state.records import EngagementDates


def next_slips(
    engagement: Engagement, remembered: EngagementDates | None, now: dt.datetime
) -> EngagementDates:
    """Count an Operational Date slip when the date moved later than the last one seen.

    The state is the source of truth for the count. An engagement the state has never seen
    starts from the count the CRM already shows (a state database rebuilt from scratch must not
    forget slips reps have already been told about). A cleared date keeps the last one seen, so
    setting it again later still counts as a slip.
    """
    date = engagement.operational_date
    if remembered is None:
        return EngagementDates(
            engagement_id=engagement.id,
            last_operational_date=date,
            slips=max(engagement.current.slips or 0, 0),
            first_seen=now,
        )
    slips = remembered.slips
    last = remembered.last_operational_date
    if date is not None and last is not None and date > last:
        slips += 1
    return EngagementDates(
        engagement_id=engagement.id,
        last_operational_date=date if date is not None else last,
        slips=slips,
        first_seen=remembered.first_seen,
    )


def same_value(current: object, desired: object) -> bool:
    """Whether a CRM value already says what the playbook wants.

    CRMs return an empty text as ``None`` or ``""``: both mean empty, which is what keeps a
    second run at zero writes whatever the CRM's habit. Numbers compare exactly (a slip count
    of 0 is written once, so reports can filter on it).
    """
    if isinstance(current, str | None) and isinstance(desired, str | None):
        return (current or None) == (desired or None)
    return current == desired


def field_changes(engagement: Engagement, desired: PluginFields | None) -> list[FieldChange]:
    """The plugin-owned fields whose CRM value differs from the desired one.

    ``desired`` ``None`` means the playbook leaves this engagement's fields alone (closed
    lost). Otherwise every plugin-owned field is managed, and a desired ``None`` means the field
    should be empty (no findings left): the change's ``after`` is then ``None``, which the
    connector writes as a cleared field.
    """
    if desired is None:
        return []
    changes = []
    for name in PLUGIN_FIELDS:
        want = getattr(desired, name)
        have = getattr(engagement.current, name)
        if not same_value(have, want):
            changes.append(FieldChange(engagement.id, name, have, want))
    return changes


@dataclass(frozen=True)
class EngagementPlan:
    """The writes one engagement needs."""

    update: RecordUpdate | None
    task_opens: tuple[TaskOpen, ...]
    task_closes: tuple[TaskClose, ...]
    task_updates: tuple[TaskUpdate, ...] = ()

    @property
    def empty(self) -> bool:
        return (
            self.update is None
            and not self.task_opens
            and not self.task_closes
            and not self.task_updates
        )


def plan_engagement(engagement: Engagement, assessment: Assessment) -> EngagementPlan:
    """Diff one engagement: field updates, and its tasks (see ``tasks.plan_tasks``)."""
    changes = field_changes(engagement, assessment.desired)
    proposal = assessment.autofill_operational_date
    if proposal is not None and engagement.operational_date is None:
        changes.append(
            FieldChange(engagement.id, "operational_date", None, proposal, only_if_empty=True)
        )
    update = RecordUpdate(engagement.id, tuple(changes)) if changes else None
    tasks = plan_tasks(engagement, assessment.tasks)
    return EngagementPlan(update, tasks.opens, tasks.closes, tasks.updates)


def merge(plans: list[EngagementPlan]) -> Plan:
    """One connector plan for a batch of engagements."""
    return Plan(
        updates=tuple(p.update for p in plans if p.update is not None),
        task_opens=tuple(o for p in plans for o in p.task_opens),
        task_closes=tuple(c for p in plans for c in p.task_closes),
        task_updates=tuple(u for p in plans for u in p.task_updates),
    )


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def plan_lines(plan: Plan, names: Mapping[str, str]) -> Iterator[dict[str, object]]:
    """The plan as reviewable JSON-ready lines (the ``--diff-file`` format).

    Every line names its engagement next to its id (``names``: id -> name), so a person can
    review the file without looking ids up in the CRM.
    """
    for record in plan.updates:
        for change in record.changes:
            line: dict[str, object] = {
                "record_id": change.engagement_id,
                "engagement": names.get(change.engagement_id),
                "field": change.field,
                "before": _plain(change.before),
                "after": _plain(change.after),
            }
            if change.only_if_empty:
                line["only_if_empty"] = True
            yield line
    for opened in plan.task_opens:
        task = opened.task
        line = {
            "task": "open" if opened.reopen_task_id is None else "reopen",
            "record_id": opened.engagement_id,
            "engagement": names.get(opened.engagement_id),
            "rule": task.rule,
            "key": task.key,
            "subject": task.subject,
            "due": task.due.isoformat(),
            "owner_id": task.owner_id,
        }
        if opened.reopen_task_id is not None:
            line["task_id"] = opened.reopen_task_id
        yield line
    for reworded in plan.task_updates:
        yield {
            "task": "update",
            "record_id": reworded.engagement_id,
            "rule": reworded.rule,
            "key": reworded.key,
            "task_id": reworded.task_id,
            "before": {
                "subject": reworded.before_subject,
                "description": reworded.before_description,
            },
            "after": {"subject": reworded.subject, "description": reworded.description},
        }
    for closed in plan.task_closes:
        yield {
            "task": "close",
            "record_id": closed.engagement_id,
            "engagement": names.get(closed.engagement_id),
            "rule": closed.rule,
            "key": closed.key,
            "task_id": closed.task_id,
        }
