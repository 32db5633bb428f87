"""Evaluate one engagement against a playbook on a given date: findings, health, desired writes.

Pure and deterministic: the same engagement, playbook, date and slip count always give the same
assessment. That is what makes every sync idempotent: the desired plugin-owned values (health,
findings text, slip count, timetable) depend on nothing else, so a re-run that finds nothing new
wants exactly what the CRM already holds and writes nothing. In particular the findings text
carries no timestamp.

The as-of date moves every day, so the written values may depend on it only through the
threshold crossings ``key_date_ranges`` predicts (the engine pulls those engagements); where a
text must quote a date that moves with the calendar (an earliest realistic date while the
engagement's dates are not feasible) the assessment says ``date_sensitive`` and the engine
re-reads that engagement daily. Either way an incremental sync leaves what a full scan would.
"""

from __future__ import annotations

import datetime as dt

from servefirst.playbook.collect import Collector
from servefirst.playbook.definition import Playbook
from servefirst.playbook.milestones import timetable_text
from servefirst.playbook.model import (
    Assessment,
    DateRange,
    Engagement,
    Finding,
    Health,
    PluginFields,
    Severity,
    Status,
)
from servefirst.playbook.rules import DATE_RULES, RULES, RuleContext
from servefirst.playbook.timetable import Anchor, build_timetable, days_after, recommended_dates
from servefirst.playbook.waivers import parse_waivers
from servefirst.playbook.wording import findings_text, sponsor_name, wording_for


def evaluate(
    engagement: Engagement, playbook: Playbook, as_of: dt.date, *, slips: int = 0
) -> Assessment:
    """Everything the playbook concludes about ``engagement`` on ``as_of``.

    ``slips`` is how many times the Operational Date has moved later since servefirst first
    saw it; the caller (the sync engine) keeps that history, the rules only read it.
    Closed-lost engagements are not evaluated: no findings, fields left alone, no tasks.

    A finding a manager waived (see ``waivers``) neither counts towards health nor opens a
    task: the manager accepted it until the waiver's date. It still shows, as waived, in the
    findings field, and ``Assessment.waived`` lists it for run summaries.
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
    autofill = _autofill(engagement, playbook, as_of)
    subject = (
        engagement.model_copy(update={"operational_date": autofill}) if autofill else engagement
    )
    table = build_timetable(subject, playbook, as_of)
    ctx = RuleContext(
        engagement=subject, playbook=playbook, as_of=as_of, slips=slips, timetable=table
    )
    fired = [
        (rule_id, rule, facts)
        for rule_id, rule in playbook.rules.items()
        if rule.enabled and (facts := RULES[rule_id](ctx, rule)) is not None
    ]
    sheet = parse_waivers(engagement.waiver_text, playbook)
    sponsor = sponsor_name(subject)
    timetable = timetable_text(table, sponsor)
    if not fired and not sheet.problems:  # the common case: nothing to say, nothing to word
        return Assessment(
            engagement_id=engagement.id,
            as_of=as_of,
            health=Health.ON_TRACK,
            findings=(),
            desired=PluginFields(health=Health.ON_TRACK, slips=slips, timetable=timetable),
            tasks=(),
            autofill_operational_date=autofill,
            date_sensitive=table.anchor is Anchor.TODAY,
        )
    dated = any(rule_id in DATE_RULES for rule_id, _, _ in fired)
    recommended = recommended_dates(subject, table) if dated else (None, None)
    words = wording_for(subject, playbook, table, slips, recommended, sponsor)
    outcome = Collector(engagement, playbook, as_of, words, sheet)
    for order, (rule_id, rule, facts) in enumerate(fired):
        outcome.add(order, rule_id, rule, facts, recommended)
    health = health_of(outcome.findings)
    desired = PluginFields(
        health=health,
        findings=findings_text(outcome.notes(), sheet.problems),
        slips=slips,
        timetable=timetable,
    )
    return Assessment(
        engagement_id=engagement.id,
        as_of=as_of,
        health=health,
        findings=tuple(outcome.findings),
        desired=desired,
        tasks=outcome.tasks(),
        autofill_operational_date=autofill,
        waived=tuple(outcome.waived),
        waiver_problems=sheet.problems,
        date_sensitive=table.anchor is Anchor.TODAY or outcome.date_sensitive,
    )


def health_of(findings: list[Finding] | tuple[Finding, ...]) -> Health:
    """``off_track`` if any error, ``at_risk`` if any warning, else ``on_track``."""
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return Health.OFF_TRACK
    if Severity.WARNING in severities:
        return Health.AT_RISK
    return Health.ON_TRACK


def _autofill(engagement: Engagement, playbook: Playbook, as_of: dt.date) -> dt.date | None:
    """The Operational Date to propose where the opt-in autofill applies, else ``None``.

    It is the timetable's earliest realistic Operational Date, so the proposal never raises a
    date finding of its own.
    """
    rule = playbook.rules.get("operational_date_missing")
    if rule is None or not rule.enabled or not rule.autofill:
        return None
    if engagement.status is not Status.OPEN or engagement.operational_date is not None:
        return None
    if engagement.po_date is None:
        return None
    return build_timetable(engagement, playbook, as_of).earliest_operational_date


def key_date_ranges(
    playbook: Playbook, previous: dt.date, current: dt.date, *, max_ranges: int | None = None
) -> tuple[DateRange, ...]:
    """Key-date ranges of engagements whose written values may change between two as-of dates.

    Moving from ``previous`` to ``current`` changes what the playbook writes (a rule's verdict,
    or whether the timetable can hang from the engagement's own dates) only for engagements
    whose PO date or Operational Date lies in a window of the same width, shifted by one of the
    timetable's offsets. Pulling just those lets a daily sync catch "the Operational Date passed
    yesterday" without a full scan; engagements whose text moves with every day are
    ``date_sensitive`` instead. The ranges are a superset (they ignore stage and status, which
    the rules then check). ``max_ranges`` merges the closest ranges for CRMs that cap how many
    alternatives one query may OR together.
    """
    if current <= previous:
        return ()

    def shifted(days: int) -> tuple[dt.date, dt.date]:
        delta = dt.timedelta(days=days)
        return previous + delta, current + delta

    # The PO date meets the earliest realistic PO date (T + the stages still to go): the plan
    # re-anchors; with offset 0 it is also po_date_past's threshold.
    po = [shifted(days_after(playbook, s.key)) for s in playbook.stages]
    # The Operational Date meets T (operational_date_past, ..._infeasible) or the earliest
    # realistic Operational Date (..._infeasible, and the plan's anchor without a PO date).
    od = [shifted(0)]
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
