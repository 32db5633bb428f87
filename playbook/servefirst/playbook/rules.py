"""The logic of each playbook rule: when it fires, and the facts its message may quote.

Each rule is one small predicate over a ``RuleContext``; the table ``RULES`` maps rule ids to
them. Everything tunable (stage thresholds, day counts, severity, action, wording) comes from the
playbook's ``RuleDef``, so RevOps change behaviour in YAML, never here. A predicate returns
``None`` when the rule does not fire, or the template values its message needs when it does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from servefirst.playbook.definition import Playbook, RuleDef
from servefirst.playbook.model import Engagement, Status
from servefirst.playbook.shape import shape
from servefirst.playbook.timetable import Timetable

Facts = dict[str, object]

#: Rules about the engagement's dates: one timetable decides them all, and setting the dates
#: it recommends clears every one of them.
DATE_RULES = frozenset(
    {
        "operational_date_missing",
        "operational_date_before_po",
        "operational_date_past",
        "po_date_past",
        "operational_date_infeasible",
    }
)


@dataclass(frozen=True)
class RuleContext:
    """What a rule may look at: the engagement, the playbook, the date, the slip count and the
    engagement's timetable on that date (the only source of "realistic" dates)."""

    engagement: Engagement
    playbook: Playbook
    as_of: dt.date
    slips: int
    timetable: Timetable

    @property
    def is_open(self) -> bool:
        return self.engagement.status is Status.OPEN

    def reached(self, stage_key: str | None) -> bool:
        """Whether an open engagement is at or past ``stage_key`` (never for unmapped stages)."""
        index = shape(self.playbook).index
        stage = self.engagement.stage
        if stage_key is None or stage is None or stage not in index:
            return False
        return index[stage] >= index[stage_key]


def sponsor_missing(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    e = ctx.engagement
    return {} if ctx.is_open and ctx.reached(rule.from_stage) and not e.sponsors else None


def success_criteria_missing(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    e = ctx.engagement
    fires = ctx.is_open and ctx.reached(rule.from_stage) and not e.success_criteria
    return {} if fires else None


def operational_date_missing(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    e = ctx.engagement
    applies = (ctx.is_open and ctx.reached(rule.from_stage)) or e.status is Status.WON
    return {} if applies and e.operational_date is None else None


def operational_date_before_po(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    e = ctx.engagement
    if e.operational_date is None or e.po_date is None:
        return None
    earliest = e.po_date + dt.timedelta(days=rule.min_days_after_po or 0)
    return {} if e.operational_date < earliest else None


def operational_date_past(ctx: RuleContext, rule: RuleDef) -> Facts | None:  # noqa: ARG001
    od = ctx.engagement.operational_date
    if ctx.is_open and od is not None and od < ctx.as_of:
        return {"days_overdue": (ctx.as_of - od).days}
    return None


def po_date_past(ctx: RuleContext, rule: RuleDef) -> Facts | None:  # noqa: ARG001
    po = ctx.engagement.po_date
    if ctx.is_open and po is not None and po < ctx.as_of:
        return {"days_overdue": (ctx.as_of - po).days}
    return None


def operational_date_infeasible(ctx: RuleContext, rule: RuleDef) -> Facts | None:  # noqa: ARG001
    """Not yet past, but earlier than the timetable's earliest realistic Operational Date."""
    e = ctx.engagement
    od = e.operational_date
    earliest = ctx.timetable.earliest_operational_date
    if not ctx.is_open or od is None or e.stage not in shape(ctx.playbook).index:
        return None
    if earliest is not None and ctx.as_of <= od < earliest:
        return {}
    return None


def success_unconfirmed(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    e = ctx.engagement
    od = e.operational_date
    if e.status is not Status.WON or od is None or e.success_confirmed:
        return None
    due = od + dt.timedelta(days=rule.confirm_within_days or 0)
    return {"days_overdue": (ctx.as_of - due).days} if ctx.as_of > due else None


def operational_date_slipped(ctx: RuleContext, rule: RuleDef) -> Facts | None:
    return {} if ctx.slips > (rule.max_slips or 0) else None


def stage_unmapped(ctx: RuleContext, rule: RuleDef) -> Facts | None:  # noqa: ARG001
    return {} if ctx.engagement.stage is None else None


Predicate = Callable[[RuleContext, RuleDef], Facts | None]

RULES: dict[str, Predicate] = {
    "sponsor_missing": sponsor_missing,
    "success_criteria_missing": success_criteria_missing,
    "operational_date_missing": operational_date_missing,
    "operational_date_before_po": operational_date_before_po,
    "operational_date_past": operational_date_past,
    "po_date_past": po_date_past,
    "operational_date_infeasible": operational_date_infeasible,
    "success_unconfirmed": success_unconfirmed,
    "operational_date_slipped": operational_date_slipped,
    "stage_unmapped": stage_unmapped,
}
