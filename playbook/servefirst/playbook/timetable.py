"""The one date model: an engagement's feasible project timetable on a given date.

Every date rule, every message that quotes a date, the timetable field and the sponsor export
read their dates from ``build_timetable``, so no two findings can disagree about what is
realistic and following one finding's advice never raises another.

The model (see the playbook guide): each stage after the current one, up to and including the
last open stage, takes its typical duration; the order arrives at the end of the last stage, so
the earliest realistic PO date is *T* plus those durations; the earliest realistic Operational
Date is ``max(PO date, earliest PO date) + delivery_lead_days``; the success review falls
``confirm_within_days`` after the Operational Date.

The plan is anchored on the engagement's own dates whenever they are feasible (milestones are
planned backwards from the PO date, or from the Operational Date when no PO date is set), so
that the text written to the CRM does not move with the calendar. Only when the dates are not
feasible is it planned forwards from *T*; ``anchor`` then says ``today`` and the engine re-reads
the engagement daily.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from servefirst.playbook.definition import Playbook, StageDef
from servefirst.playbook.model import Engagement, Status
from servefirst.playbook.shape import shape

DAY = dt.timedelta(days=1)


class Anchor(StrEnum):
    """What the timetable's dates are planned from."""

    PO_DATE = "po_date"  # backwards from a feasible PO date
    OPERATIONAL_DATE = "operational_date"  # backwards from a feasible OD, no PO date set
    TODAY = "today"  # forwards from T: the engagement's dates are not feasible
    UNDATED = "undated"  # no date set yet: durations only
    OWN_DATES = "own_dates"  # won, or a stage the playbook does not know: the dates as set


@dataclass(frozen=True)
class StagePlan:
    """One stage still to go: its label, typical length and planned end (``None``: undated)."""

    key: str
    label: str
    typical_days: int
    ends: dt.date | None


@dataclass(frozen=True)
class Timetable:
    """An engagement's project timetable on ``as_of``, and what is realistic from there."""

    engagement_name: str
    as_of: dt.date
    anchor: Anchor
    stage_label: str | None
    stages: tuple[StagePlan, ...]
    delivery_lead_days: int
    confirm_within_days: int
    po_date: dt.date | None
    operational_date: dt.date | None
    #: Earliest realistic dates; ``None`` where the playbook has no view (won: the order is in).
    earliest_po_date: dt.date | None
    earliest_operational_date: dt.date | None
    #: Whether ``earliest_operational_date`` would be the same on any other as-of date.
    earliest_operational_fixed: bool
    #: The dates the plan shows: the engagement's own where feasible, else the earliest.
    planned_po_date: dt.date | None
    planned_operational_date: dt.date | None

    @property
    def success_review(self) -> dt.date | None:
        od = self.planned_operational_date
        return od + dt.timedelta(days=self.confirm_within_days) if od else None

    @property
    def po_feasible(self) -> bool:
        """The PO date is set and no earlier than the earliest realistic one."""
        po, earliest = self.po_date, self.earliest_po_date
        return po is not None and (earliest is None or po >= earliest)

    @property
    def operational_feasible(self) -> bool:
        """The Operational Date is set and no earlier than the earliest realistic one."""
        od, earliest = self.operational_date, self.earliest_operational_date
        return od is not None and (earliest is None or od >= earliest)


def days_after(playbook: Playbook, stage: str | None) -> int:
    """Typical days of the open stages after ``stage`` (0 for the last or an unknown stage)."""
    return shape(playbook).after.get(stage or "", 0)


def build_timetable(engagement: Engagement, playbook: Playbook, as_of: dt.date) -> Timetable:
    """The engagement's timetable on ``as_of`` (see the module docstring for the model)."""
    e = engagement
    lookup = shape(playbook)
    mapped = e.is_open and e.stage in lookup.index
    lead = dt.timedelta(days=playbook.delivery_lead_days)
    po, od = e.po_date, e.operational_date
    if e.status is Status.WON:
        earliest_po = None
        base = po or as_of
        fixed = po is not None
    else:
        earliest_po = as_of + dt.timedelta(days=days_after(playbook, e.stage))
        base = max(po, earliest_po) if po is not None else earliest_po
        fixed = po is not None and po >= earliest_po
    earliest_od = base + lead
    anchor, planned_po = _anchor(mapped, po, od, earliest_po, lead)
    after = playbook.stages[lookup.index[e.stage] + 1 :] if mapped and e.stage else ()
    stages = _stage_plans(after, planned_po if anchor is not Anchor.UNDATED else None)
    if anchor is Anchor.OWN_DATES:
        planned_od = od
    elif anchor is Anchor.UNDATED:
        planned_od = None
    else:
        planned_od = od if od is not None and od >= earliest_od else earliest_od
    stage_label = lookup.labels.get(e.stage or "") if e.is_open else None
    return Timetable(
        engagement_name=e.name,
        as_of=as_of,
        anchor=anchor,
        stage_label=stage_label,
        stages=stages,
        delivery_lead_days=playbook.delivery_lead_days,
        confirm_within_days=playbook.confirm_within_days,
        po_date=po,
        operational_date=od,
        earliest_po_date=earliest_po,
        earliest_operational_date=earliest_od,
        earliest_operational_fixed=fixed,
        planned_po_date=planned_po,
        planned_operational_date=planned_od,
    )


def _anchor(
    mapped: bool,
    po: dt.date | None,
    od: dt.date | None,
    earliest_po: dt.date | None,
    lead: dt.timedelta,
) -> tuple[Anchor, dt.date | None]:
    """Which date the plan hangs from, and the PO date it plans for."""
    if not mapped or earliest_po is None:
        return Anchor.OWN_DATES, po
    if po is not None and po >= earliest_po:
        return Anchor.PO_DATE, po
    if po is None and od is not None and od - lead >= earliest_po:
        return Anchor.OPERATIONAL_DATE, od - lead
    if po is None and od is None:
        return Anchor.UNDATED, None
    return Anchor.TODAY, earliest_po


def _stage_plans(stages: tuple[StageDef, ...], po: dt.date | None) -> tuple[StagePlan, ...]:
    """Stage milestones planned backwards from the PO date (the end of the last stage)."""
    plans: list[StagePlan] = []
    ends = po
    for stage in reversed(stages):
        plans.append(StagePlan(stage.key, stage.label, stage.typical_days, ends))
        if ends is not None:
            ends -= dt.timedelta(days=stage.typical_days)
    return tuple(reversed(plans))


def recommended_dates(
    engagement: Engagement, table: Timetable
) -> tuple[dt.date | None, dt.date | None]:
    """The PO date and Operational Date to set so that no date finding holds (``None``: keep).

    A PO date in the past moves to the earliest realistic one; an Operational Date that is
    missing or earlier than the earliest realistic one moves to that. Moving the PO date this
    way never moves the earliest Operational Date, so the two recommendations agree.
    """
    po = table.po_date
    new_po = (
        table.earliest_po_date
        if engagement.is_open and po is not None and po < table.as_of
        else None
    )
    od = table.operational_date
    earliest = table.earliest_operational_date
    new_od = earliest if earliest is not None and (od is None or od < earliest) else None
    return new_po, new_od
