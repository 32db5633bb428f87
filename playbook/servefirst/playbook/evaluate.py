"""Evaluate one engagement against a playbook on a given date: findings, health, desired writes.

Pure and deterministic: the same engagement, playbook, date and slip count always give the same
assessment. That is what makes every sync idempotent: the desired plugin-owned values (health,
findings text, slip count) depend on nothing else, so a re-run that finds nothing new wants
exactly what the CRM already holds and writes nothing. In particular the findings text carries
no timestamp.
"""

from __future__ import annotations

import datetime as dt

from servefirst.playbook.definition import Playbook, RuleDef
from servefirst.playbook.model import (
    Action,
    Assessment,
    DateRange,
    DesiredTask,
    Engagement,
    Finding,
    Health,
    PluginFields,
    Severity,
    Status,
    task_key,
)
from servefirst.playbook.rules import RULES, RuleContext


class _Template(dict[str, object]):
    """Format values that leave an unknown placeholder visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def evaluate(
    engagement: Engagement, playbook: Playbook, as_of: dt.date, *, slips: int = 0
) -> Assessment:
    """Everything the playbook concludes about ``engagement`` on ``as_of``.

    ``slips`` is how many times the Operational Date has moved later since servefirst first
    saw it; the caller (the sync engine) keeps that history, the rules only read it.
    Closed-lost engagements are not evaluated: no findings, fields left alone, no tasks.
    """
    if engagement.status is Status.LOST:
        return Assessment(
            engagement_id=engagement.id,
            as_of=as_of,
            health=None,
            findings=(),
            desired=None,
            tasks=(),
        )
    autofill = _autofill(engagement, playbook)
    subject = (
        engagement.model_copy(update={"operational_date": autofill}) if autofill else engagement
    )
    ctx = RuleContext(engagement=subject, playbook=playbook, as_of=as_of, slips=slips)
    findings: list[Finding] = []
    tasks: list[DesiredTask] = []
    for rule_id, rule in playbook.rules.items():
        if not rule.enabled:
            continue
        facts = RULES[rule_id](ctx, rule)
        if facts is None:
            continue
        values = _template_values(ctx, rule, facts)
        finding = Finding(
            engagement_id=engagement.id,
            rule=rule_id,
            severity=rule.severity,
            action=rule.action,
            message=rule.message.format_map(values),
            fix=rule.fix.format_map(values),
        )
        findings.append(finding)
        if rule.action is Action.TASK and rule.task_title is not None:
            tasks.append(
                DesiredTask(
                    key=task_key(engagement.id, rule_id),
                    rule=rule_id,
                    subject=rule.task_title.format_map(values),
                    description=f"{finding.message}\n\n{finding.fix}",
                    due=as_of + dt.timedelta(days=playbook.task_due_in_days),
                    owner_id=engagement.owner_id,
                )
            )
    health = health_of(findings)
    return Assessment(
        engagement_id=engagement.id,
        as_of=as_of,
        health=health,
        findings=tuple(findings),
        desired=PluginFields(health=health, findings=findings_text(findings), slips=slips),
        tasks=tuple(tasks),
        autofill_operational_date=autofill,
    )


def health_of(findings: list[Finding] | tuple[Finding, ...]) -> Health:
    """``off_track`` if any error, ``at_risk`` if any warning, else ``on_track``."""
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return Health.OFF_TRACK
    if Severity.WARNING in severities:
        return Health.AT_RISK
    return Health.ON_TRACK


def findings_text(findings: list[Finding] | tuple[Finding, ...]) -> str | None:
    """The rep-facing text of the findings field: one line per finding, errors first.

    ``None`` (an empty field) when there is nothing to say. Deterministic on purpose: no date,
    no counter, so an unchanged engagement never causes a write.
    """
    if not findings:
        return None
    ordered = sorted(findings, key=lambda f: (f.severity is not Severity.ERROR, f.rule))
    return "\n".join(
        f"[{f.severity.value.upper()}] {f.message} Next step: {f.fix} ({f.rule})" for f in ordered
    )


def _autofill(engagement: Engagement, playbook: Playbook) -> dt.date | None:
    """The Operational Date to propose where the opt-in autofill applies, else ``None``."""
    rule = playbook.rules.get("operational_date_missing")
    if rule is None or not rule.enabled or not rule.autofill:
        return None
    if engagement.status is not Status.OPEN or engagement.operational_date is not None:
        return None
    if engagement.po_date is None:
        return None
    return engagement.po_date + dt.timedelta(days=playbook.delivery_lead_days)


def _template_values(ctx: RuleContext, rule: RuleDef, facts: dict[str, object]) -> _Template:
    e = ctx.engagement
    stage_label = ctx.playbook.stage(e.stage).label if e.stage in _open(ctx.playbook) else ""
    sponsor = e.sponsors[0].name if e.sponsors and e.sponsors[0].name else "your sponsor"
    values = _Template(
        engagement=e.name,
        account=e.account or "the account",
        sponsor=sponsor,
        stage=stage_label or e.raw_stage,
        raw_stage=e.raw_stage,
        po_date=e.po_date.isoformat() if e.po_date else "not set",
        operational_date=e.operational_date.isoformat() if e.operational_date else "not set",
        slips=ctx.slips,
        max_slips=rule.max_slips if rule.max_slips is not None else "",
        confirm_within_days=rule.confirm_within_days or 0,
        min_days_after_po=rule.min_days_after_po or 0,
    )
    values.update(facts)
    return values


def _open(playbook: Playbook) -> set[str]:
    return {s.key for s in playbook.stages}


def key_date_ranges(
    playbook: Playbook, previous: dt.date, current: dt.date, *, max_ranges: int | None = None
) -> tuple[DateRange, ...]:
    """Key-date ranges of engagements whose findings may change between two as-of dates.

    Moving from ``previous`` to ``current`` flips a date-driven rule only for engagements whose
    PO date or Operational Date lies in a window of the same width, shifted by the rule's
    offset. Pulling just those lets a daily sync catch "the Operational Date passed yesterday"
    without a full scan. The ranges are a superset (they ignore stage and status, which the
    rules then check). ``max_ranges`` merges the closest ranges for CRMs that cap how many
    alternatives one query may OR together.
    """
    if current <= previous:
        return ()
    enabled = {rid for rid, rule in playbook.rules.items() if rule.enabled}
    od: list[tuple[dt.date, dt.date]] = []
    po: list[tuple[dt.date, dt.date]] = []

    def shifted(days: int) -> tuple[dt.date, dt.date]:
        delta = dt.timedelta(days=days)
        return previous + delta, current + delta

    if "po_date_past" in enabled:
        po.append(shifted(0))
    if "operational_date_past" in enabled or "operational_date_infeasible" in enabled:
        od.append(shifted(0))
    if "operational_date_infeasible" in enabled:
        od.extend(shifted(playbook.days_still_needed(s.key)) for s in playbook.stages)
    confirm = playbook.rules.get("success_unconfirmed")
    if confirm is not None and confirm.enabled:
        od.append(shifted(-(confirm.confirm_within_days or 0)))
    ranges = [DateRange(field="po_date", start=a, end=b) for a, b in _merge(po)]
    ranges += [DateRange(field="operational_date", start=a, end=b) for a, b in _merge(od)]
    while max_ranges is not None and len(ranges) > max_ranges:
        merged = _merge_closest(ranges)
        if len(merged) == len(ranges):
            break
        ranges = merged
    return tuple(ranges)


def _merge(spans: list[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    merged: list[tuple[dt.date, dt.date]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _merge_closest(ranges: list[DateRange]) -> list[DateRange]:
    """Merge the two ranges of the same field with the smallest gap between them."""
    best: tuple[int, int] | None = None
    best_gap: int | None = None
    for i, left in enumerate(ranges):
        for j in range(i + 1, len(ranges)):
            right = ranges[j]
            if left.field != right.field:
                continue
            gap = max((right.start - left.end).days, (left.start - right.end).days)
            if best_gap is None or gap < best_gap:
                best, best_gap = (i, j), gap
    if best is None:  # one range per field left: nothing more to merge
        return ranges
    i, j = best
    a, b = ranges[i], ranges[j]
    joined = DateRange(field=a.field, start=min(a.start, b.start), end=max(a.end, b.end))
    return [r for k, r in enumerate(ranges) if k not in (i, j)] + [joined]
