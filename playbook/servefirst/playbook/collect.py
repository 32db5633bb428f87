"""From fired rules to what the CRM should show: findings, waived findings, notes and tasks.

Findings that one action fixes (a task group) share one task and one entry of the findings
field, whose reasons are the group's findings and whose fix is the group's. A waived finding
opens no task and reads as waived; a waiver past its date, or longer than the playbook allows,
does not apply and the finding's entry says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from servefirst.playbook.definition import Playbook, RuleDef
from servefirst.playbook.model import (
    Action,
    DesiredTask,
    Engagement,
    Finding,
    Severity,
    WaivedFinding,
    task_key,
)
from servefirst.playbook.rules import DATE_RULES
from servefirst.playbook.shape import shape
from servefirst.playbook.waivers import Waiver, WaiverSheet, WaiverState
from servefirst.playbook.wording import Note, Wording


@dataclass
class _Item:
    """The findings of one task group (or one ungrouped rule) that are in force."""

    order: int
    fix: str
    title: str | None
    findings: list[Finding] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def severity(self) -> Severity:
        errors = any(f.severity is Severity.ERROR for f in self.findings)
        return Severity.ERROR if errors else Severity.WARNING


@dataclass
class Collector:
    """Collects one engagement's fired rules, in playbook order."""

    engagement: Engagement
    playbook: Playbook
    as_of: dt.date
    words: Wording
    sheet: WaiverSheet
    findings: list[Finding] = field(default_factory=list)
    waived: list[WaivedFinding] = field(default_factory=list)
    date_sensitive: bool = False
    _items: dict[str, _Item] = field(default_factory=dict)
    _waived_notes: dict[tuple[str, dt.date, str], Note] = field(default_factory=dict)

    def add(
        self,
        order: int,
        rule_id: str,
        rule: RuleDef,
        facts: dict[str, object],
        recommended: tuple[dt.date | None, dt.date | None],
    ) -> None:
        """Add one fired rule: as a finding in force, or as a waived one."""
        lookup = shape(self.playbook)
        group_key = lookup.group_of.get(rule_id)
        group = self.playbook.task_groups[group_key] if group_key else None
        fix_template = group.fix if group else (rule.fix or "")
        title_template = group.task_title if group else rule.task_title
        dated = rule_id in DATE_RULES
        finding = Finding(
            engagement_id=self.engagement.id,
            rule=rule_id,
            severity=rule.severity,
            action=rule.action,
            message=self.words.message(rule.message, facts),
            fix=self.words.action(fix_template, facts),
            group=group_key,
            recommended_po_date=recommended[0] if dated else None,
            recommended_operational_date=recommended[1] if dated else None,
        )
        if lookup.fields_of[rule_id] & self.words.moving:
            self.date_sensitive = True
        key = group_key or rule_id
        waiver = self.sheet.for_finding(rule_id, group_key)
        state = waiver.state(self.as_of, self.playbook.waivers.max_days) if waiver else None
        if waiver is not None and state is not WaiverState.EXPIRED:
            self.date_sensitive = True  # it ends, or comes within the maximum, on a later day
        if waiver is not None and state is WaiverState.ACTIVE:
            self._waive(order, key, finding, waiver)
            return
        self.findings.append(finding)
        item = self._items.get(key)
        if item is None:
            title = self.words.action(title_template, facts) if title_template else None
            item = self._items[key] = _Item(order, finding.fix, title)
        item.findings.append(finding)
        if waiver is not None and state is not None:
            remark = self._remark(waiver, state)
            if remark not in item.remarks:
                item.remarks.append(remark)

    def _waive(self, order: int, key: str, finding: Finding, waiver: Waiver) -> None:
        self.waived.append(WaivedFinding(finding=finding, until=waiver.until, reason=waiver.reason))
        slot = (key, waiver.until, waiver.reason)
        note = self._waived_notes.get(slot)
        messages = (*note.messages, finding.message) if note else (finding.message,)
        self._waived_notes[slot] = Note(
            severity=finding.severity,
            order=note.order if note else order,
            messages=messages,
            fix=finding.fix,
            waived_until=waiver.until,
            waiver_reason=waiver.reason,
        )

    def _remark(self, waiver: Waiver, state: WaiverState) -> str:
        if state is WaiverState.EXPIRED:
            return f"The waiver of this ended on {waiver.until.isoformat()}."
        days = self.playbook.waivers.max_days
        return (
            f"The waiver until {waiver.until.isoformat()} does not apply: a waiver may run "
            f"at most {days} days ahead."
        )

    def notes(self) -> list[Note]:
        """The entries of the findings field: in force (one per group or rule), then waived."""
        active = [
            Note(
                severity=item.severity,
                order=item.order,
                messages=tuple(f.message for f in item.findings),
                fix=item.fix,
                remarks=tuple(item.remarks),
            )
            for item in self._items.values()
        ]
        return active + list(self._waived_notes.values())

    def tasks(self) -> tuple[DesiredTask, ...]:
        """One task per group (or ungrouped rule) with a finding in force whose action is task."""
        due = self.as_of + dt.timedelta(days=self.playbook.task_due_in_days)
        tasks = []
        for key, item in self._items.items():
            if item.title is None or not any(f.action is Action.TASK for f in item.findings):
                continue
            reasons = "\n".join(f.message for f in item.findings)
            tasks.append(
                DesiredTask(
                    key=task_key(self.engagement.id, key),
                    rule=key,
                    subject=item.title,
                    description=f"{reasons}\n\n{item.fix}",
                    due=due,
                    owner_id=self.engagement.owner_id,
                    severity=item.severity,
                    rules=tuple(f.rule for f in item.findings),
                )
            )
        return tuple(tasks)
