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
from enum import StrEnum
from typing import NamedTuple

from servefirst.playbook.definition import Playbook
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


class StagePlan(NamedTuple):
    """One stage still to go: its label, typical length and planned end (``None``: undated)."""

    key: str
    label: str
    typical_days: int
    ends: dt.date | None


class Timetable(NamedTuple):
    """An engagement's project timetable on ``as_of``, and what is realistic from there.

    A named tuple rather than a dataclass: one is built per engagement evaluated, and tuples
    are the cheapest immutable record Python makes.
    """

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
    stage = e.stage or ""
    is_open = e.status is Status.OPEN
    mapped = is_open and stage in lookup.index
    lead = lookup.lead
    po, od = e.po_date, e.operational_date
    if e.status is Status.WON:
        earliest_po = None
        base = po or as_of
        fixed = po is not None
    else:
        earliest_po = as_of + dt.timedelta(days=lookup.after.get(stage, 0))
        base = earliest_po if po is None or po < earliest_po else po
        fixed = po is not None and po >= earliest_po
    earliest_od = base + lead
    anchor, planned_po = _anchor(mapped, po, od, earliest_po, lead)
    if anchor is Anchor.OWN_DATES:
        planned_od = od
    elif anchor is Anchor.UNDATED:
        planned_od = None
    else:
        planned_od = od if od is not None and od >= earliest_od else earliest_od
    stages = (
        tuple(
            StagePlan(key, label, days, planned_po - offset if planned_po else None)
            for key, label, days, offset in lookup.plans_after[stage]
        )
        if mapped
        else ()
    )
    return Timetable(
        e.name,
        as_of,
        anchor,
        lookup.labels.get(stage) if is_open else None,
        stages,
        playbook.delivery_lead_days,
        lookup.confirm_within_days,
        po,
        od,
        earliest_po,
        earliest_od,
        fixed,
        planned_po,
        planned_od,
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
