"""Planning an engagement's playbook tasks: open, reopen, reword, close, never two per key.

The CRM's tasks follow the playbook: a task the playbook wants is open (created, or the same
task reopened when a rep marked it done while its problem persists), says what the playbook
says now (a changed rule wording or task title is written into open tasks in place), and is
closed once its problem is gone or waived. Pure functions: the engine feeds them what the pull
found and what ``evaluate`` wants.
"""

from __future__ import annotations

from dataclasses import dataclass

from servefirst.connectors.base import (
    TASK_DESCRIPTION_MAX,
    TASK_SUBJECT_MAX,
    TaskClose,
    TaskOpen,
    TaskUpdate,
)
from servefirst.playbook.model import DesiredTask, Engagement, TaskRef

#: The line a reopened task starts with: it is still open, and why. Fixed words (no date, no
#: count), so a reopened task read back compares equal and is not rewritten on the next run.
REOPEN_NOTE = (
    "Still open: this task was marked done, but the engagement still needs it (the reasons "
    "are below). It closes by itself once they are fixed, or if your manager waives them."
)


@dataclass(frozen=True)
class TaskPlan:
    """The task writes one engagement needs."""

    opens: tuple[TaskOpen, ...] = ()
    closes: tuple[TaskClose, ...] = ()
    updates: tuple[TaskUpdate, ...] = ()


def _norm(text: str | None) -> str:
    """Text as compared: CRMs may hand back ``\\r\\n`` and trim trailing blanks."""
    return (text or "").replace("\r\n", "\n").strip()


def reopened(description: str) -> str:
    """A task body with the still-open line first."""
    return f"{REOPEN_NOTE}\n\n{description}"


def _clip(task: DesiredTask, *, reopen: bool = False) -> DesiredTask:
    """The task as every CRM can hold it (see ``TASK_SUBJECT_MAX``), noted when reopened."""
    description = reopened(task.description) if reopen else task.description
    return task.model_copy(
        update={
            "subject": task.subject[:TASK_SUBJECT_MAX],
            "description": description[:TASK_DESCRIPTION_MAX],
        }
    )


def _reword(engagement_id: str, ref: TaskRef, task: DesiredTask) -> TaskUpdate | None:
    """The in-place update an open task needs to say what the playbook says now, if any.

    A task whose text the pull did not read (``None``) is left alone. A task that carries the
    still-open line keeps it.
    """
    if ref.subject is None and ref.description is None:
        return None
    noted = _norm(ref.description).startswith(REOPEN_NOTE)
    want = _clip(task, reopen=noted)
    if _norm(ref.subject) == _norm(want.subject) and _norm(ref.description) == _norm(
        want.description
    ):
        return None
    return TaskUpdate(
        engagement_id=engagement_id,
        key=ref.key,
        rule=ref.rule,
        task_id=ref.task_id,
        subject=want.subject,
        description=want.description,
        before_subject=ref.subject,
        before_description=ref.description,
    )


def plan_tasks(engagement: Engagement, wanted_tasks: tuple[DesiredTask, ...]) -> TaskPlan:
    """Diff the playbook tasks of one engagement against the tasks the CRM holds.

    Tasks are matched on their deterministic key. An open task the playbook still wants stays
    open and is reworded if its words differ; an open task it no longer wants (problem fixed,
    waived, or its rule now shares a task with others under a new key) is closed; should the
    CRM ever hold two open tasks with one key, all but one are closed. A wanted task with no
    open one is reopened when the pull found it completed, else created. Reopens come before
    creates, the order in which connectors report their results.
    """
    wanted = {task.key: task for task in wanted_tasks}
    completed = {ref.key: ref for ref in engagement.completed_tasks}
    kept: set[str] = set()
    closes: list[TaskClose] = []
    updates: list[TaskUpdate] = []
    for ref in engagement.open_tasks:
        task = wanted.get(ref.key)
        if task is None or ref.key in kept:
            closes.append(TaskClose(engagement.id, ref.key, ref.rule, ref.task_id))
            continue
        kept.add(ref.key)
        update = _reword(engagement.id, ref, task)
        if update is not None:
            updates.append(update)
    reopens: list[TaskOpen] = []
    creates: list[TaskOpen] = []
    for key, task in wanted.items():
        if key in kept:
            continue
        done = completed.get(key)
        if done is None:
            creates.append(TaskOpen(engagement.id, _clip(task)))
        else:
            reopens.append(TaskOpen(engagement.id, _clip(task, reopen=True), done.task_id))
    return TaskPlan(tuple(reopens + creates), tuple(closes), tuple(updates))
