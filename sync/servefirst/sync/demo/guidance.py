"""The demo's guidance steps: a rep's timetable, a dismissed task coming back, a waiver.

Each step reads or writes the CRM through the real client library, as the rep or manager
would in the CRM's own screens, and the next sync's report shows what servefirst made of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Action
from servefirst.sync.demo.reps import DeskTask, RepDesk
from servefirst.sync.engine.report import EngagementSummary, RunReport

#: The waiver the demo's manager writes: plain words, a date within the playbook's limit.
WAIVER_DAYS = 30
WAIVER_REASON = "the customer freezes all projects until their audit is over"


@dataclass(frozen=True)
class Dismissal:
    """What the rep and the manager did before the next sync."""

    dismissed: str  # engagement whose task the rep marked done without fixing anything
    task_id: str
    waived: str  # engagement whose finding the manager waived
    waived_task_id: str


def show_timetable(console: Console, rep: RepDesk, report: RunReport) -> None:
    """Print the project timetable servefirst wrote on an open engagement, as the rep sees it."""
    for engagement in report.engagements:
        if engagement.health is None:
            continue
        text = rep.timetable(engagement.id)
        if text:
            console.print(
                f"On [bold]{escape(engagement.name)}[/] the rep finds this timetable, ready to "
                "paste into a mail to the sponsor:"
            )
            for line in text.splitlines():
                console.print(f"    {escape(line)}", highlight=False)
            return
    console.print("No open engagement carries a timetable yet.")


def waiver_name(playbook: Playbook, rule: str) -> str | None:
    """The plain name a manager writes to waive the task ``rule`` is part of, if it has one.

    A rule sharing a task with others is waived through its group, so the whole task closes.
    """
    for group in playbook.task_groups.values():
        if rule in group.rules:
            return group.label
    definition = playbook.rules.get(rule)
    if definition is None or definition.action is not Action.TASK:
        return None
    return definition.label or rule


def _open_task(rep: RepDesk, engagement: EngagementSummary) -> DeskTask | None:
    return next((t for t in rep.playbook_tasks(engagement.id) if t.open), None)


def dismiss_and_waive(
    console: Console,
    rep: RepDesk,
    report: RunReport,
    playbook: Playbook,
    taken: set[str],
    today: dt.date,
) -> Dismissal | None:
    """A rep marks a task done without fixing it; a manager waives another engagement's finding.

    ``report`` is a sync that read every engagement (the first); ``taken`` are the engagements
    the rep fixed since (left alone here). Each candidate's open task is read from the CRM.
    """
    candidates = [e for e in report.engagements if e.id not in taken and e.findings]
    dismissed = next((e for e in candidates if _open_task(rep, e) is not None), None)
    if dismissed is None:
        return None
    task = _open_task(rep, dismissed)
    assert task is not None  # noqa: S101 - just found
    waived, name = None, None
    for engagement in candidates:
        names = [waiver_name(playbook, f.rule) for f in engagement.findings]
        name = next((n for n in names if n), None)
        if engagement.id != dismissed.id and name and _open_task(rep, engagement) is not None:
            waived = engagement
            break
    if waived is None or name is None:
        return None
    rep.complete_task(task.task_id)
    console.print(
        f"  {escape(dismissed.name)}: the rep marks the task \u201c{escape(task.subject)}\u201d "
        "done without changing anything on the engagement."
    )
    waived_task = _open_task(rep, waived)
    assert waived_task is not None  # noqa: S101 - just found
    until = today + dt.timedelta(days=WAIVER_DAYS)
    rep.waive(waived.id, f"{name} until {until.isoformat()}: {WAIVER_REASON}")
    console.print(
        f"  {escape(waived.name)}: the sales manager waives \u201c{escape(name)}\u201d until "
        f"{until.isoformat()} in the Playbook waiver field ({WAIVER_REASON})."
    )
    return Dismissal(dismissed.id, task.task_id, waived.id, waived_task.task_id)


def show_comeback(console: Console, rep: RepDesk, report: RunReport, done: Dismissal) -> None:
    """The dismissed task is open again and says why; the waived finding's task is closed."""
    console.print(
        f"Tasks reopened: {report.totals.tasks_reopened}; tasks closed: "
        f"{report.totals.tasks_closed}."
    )
    back = next((t for t in rep.playbook_tasks(done.dismissed) if t.task_id == done.task_id), None)
    if back is not None and back.open:
        first = back.body.splitlines()[0] if back.body else ""
        console.print(f"  The dismissed task is open again: {escape(first)}", highlight=False)
    for engagement in report.engagements:
        if engagement.id != done.waived:
            continue
        for item in engagement.waived:
            console.print(
                f"  Waived on {escape(engagement.name)}: {escape(item.message)} (until "
                f"{item.until}: {escape(item.reason)})",
                highlight=False,
            )
    closed = next(
        (t for t in rep.playbook_tasks(done.waived) if t.task_id == done.waived_task_id), None
    )
    if closed is not None and not closed.open:
        console.print(f"  Its task \u201c{escape(closed.subject)}\u201d is closed.")
