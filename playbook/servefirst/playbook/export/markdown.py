"""The timetable as Markdown: paste it into a mail, a wiki page or a shared document."""

from __future__ import annotations

from servefirst.playbook.checklist import render_checklist
from servefirst.playbook.milestones import day, milestones
from servefirst.playbook.model import Engagement
from servefirst.playbook.timetable import Timetable
from servefirst.playbook.wording import sponsor_name


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(engagement: Engagement, table: Timetable) -> str:
    """A heading, who it is for, the success criteria as a checklist, then the milestones."""
    lines = [f"# Project timetable: {engagement.name}", ""]
    sponsor = sponsor_name(engagement)
    if engagement.account:
        lines.append(f"- Customer: {engagement.account}")
    lines.append(f"- Sponsor: {sponsor or 'to be named'}")
    if table.stage_label:
        lines.append(f"- Stage now: {table.stage_label}")
    lines += ["", "## Success criteria", ""]
    criteria = render_checklist(engagement.success_criteria)
    lines.append(criteria or "Not written down yet: what must be true when the solution works?")
    lines += ["", "## Milestones", "", "| Milestone | Date | |", "|---|---|---|"]
    for item in milestones(table):
        title = f"**{item.title}**" if item.key_date else item.title
        when = day(item.date) if item.date else "to be planned"
        when = f"**{when}**" if item.key_date and item.date else when
        lines.append(f"| {_cell(title)} | {when} | {_cell(item.detail)} |")
    return "\n".join(lines) + "\n"
