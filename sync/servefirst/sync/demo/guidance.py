"""The demo's guidance steps: a rep's timetable, a dismissed task coming back, a waiver.

Each step reads or writes the CRM through the real client library, as the rep or manager
would in the CRM's own screens, and the next sync's report shows what servefirst made of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from servefirst.sync.demo.reps import RepDesk
from servefirst.sync.engine.report import EngagementSummary, RunReport

#: The waiver the demo's manager writes: plain words, a date within the playbook's limit.
WAIVER_DAYS = 30
WAIVER_REASON = "the sponsor is on leave; their deputy names a sponsor when they are back"


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


def _with_rule(report: RunReport, rule: str, taken: set[str]) -> EngagementSummary | None:
    for engagement in report.engagements:
        if engagement.id not in taken and any(f.rule == rule for f in engagement.findings):
            return engagement
    return None


def dismiss_and_waive(
    console: Console, rep: RepDesk, report: RunReport, taken: set[str], today: dt.date
) -> Dismissal | None:
    """A rep marks a task done without fixing it; a manager waives another engagement's finding.

    ``taken`` are the engagements the rep fixed earlier in the demo (left alone here).
    """
    waived = _with_rule(report, "sponsor_missing", taken)
    if waived is None:
        return None
    dismissed = next(
        (
            e
            for e in report.engagements
            if e.id not in taken | {waived.id}
            and e.health == "off_track"
            and any(t.open for t in rep.playbook_tasks(e.id))
        ),
        None,
    )
    if dismissed is None:
        return None
    task = next(t for t in rep.playbook_tasks(dismissed.id) if t.open)
    rep.complete_task(task.task_id)
    console.print(
        f"  {escape(dismissed.name)}: the rep marks the task \u201c{escape(task.subject)}\u201d "
        "done without changing anything on the engagement."
    )
    waived_task = next(t for t in rep.playbook_tasks(waived.id) if t.open)
    until = today + dt.timedelta(days=WAIVER_DAYS)
    rep.waive(waived.id, f"Sponsor missing until {until.isoformat()}: {WAIVER_REASON}")
    console.print(
        f"  {escape(waived.name)}: the sales manager waives \u201csponsor missing\u201d until "
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
