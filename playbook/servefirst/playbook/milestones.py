"""The timetable as milestones, and as the short text reps paste into a mail to the sponsor.

One list of milestones feeds every rendering (the CRM field here, and the sponsor's page and
calendar in ``servefirst.playbook.export``), so they always show the same dates. The text
is written for the sponsor: project language, day-month-year dates, the Operational Date set
apart as the date that matters.
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import StrEnum
from typing import NamedTuple

from servefirst.playbook.timetable import Anchor, Timetable

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Kind(StrEnum):
    """What a milestone marks."""

    STAGE = "stage"
    PO = "po"
    OPERATIONAL = "operational"
    REVIEW = "review"


class Milestone(NamedTuple):
    """One line of the timetable: a dated (or not yet dated) step towards the Operational Date."""

    kind: Kind
    title: str
    date: dt.date | None
    detail: str = ""

    @property
    def key_date(self) -> bool:
        return self.kind is Kind.OPERATIONAL


@functools.lru_cache(maxsize=4096)
def day(value: dt.date) -> str:
    """A date as sponsors read it anywhere: ``20 Jul 2026``."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def milestones(table: Timetable) -> list[Milestone]:
    """The timetable's milestones in order: stages still to go, PO, Operational Date, review."""
    items = [
        Milestone(
            Kind.STAGE,
            f"{stage.label} complete",
            stage.ends,
            "" if stage.ends else f"about {stage.typical_days} days",
        )
        for stage in table.stages
    ]
    items.append(_po(table))
    items.append(_operational(table))
    review = table.success_review
    items.append(
        Milestone(
            Kind.REVIEW,
            "Success review",
            review,
            "measure the results against the success criteria together"
            if review
            else f"{table.confirm_within_days} days after the Operational Date",
        )
    )
    return items


def _po(table: Timetable) -> Milestone:
    planned, own = table.planned_po_date, table.po_date
    if table.anchor is Anchor.UNDATED:
        return Milestone(Kind.PO, "Purchase order", None, "not planned yet")
    if table.anchor is Anchor.OWN_DATES:
        detail = "received" if planned and table.earliest_po_date is None else ""
        return Milestone(Kind.PO, "Purchase order", planned, detail)
    if own is not None and planned != own:
        return Milestone(
            Kind.PO, "Purchase order", planned, f"at the earliest; {day(own)} is too soon"
        )
    detail = "needed by then" if own is None else ""
    return Milestone(Kind.PO, "Purchase order", planned, detail)


def _operational(table: Timetable) -> Milestone:
    planned, own = table.planned_operational_date, table.operational_date
    lead = f"{table.delivery_lead_days} days after the order"
    if planned is None:
        detail = lead if table.anchor is Anchor.UNDATED else "not agreed yet"
        return Milestone(Kind.OPERATIONAL, "Operational Date", None, detail)
    if own is not None and own != planned:
        detail = f"at the earliest; {day(own)} is too soon"
    else:
        detail = "the solution working and meeting the success criteria"
    return Milestone(Kind.OPERATIONAL, "Operational Date", planned, detail)


def timetable_text(table: Timetable, sponsor: str | None = None) -> str:
    """A few lines for the CRM field: stages with dates, PO, delivery, Operational Date, review.

    Anchored on the engagement's own dates wherever they are feasible, so the text stays the
    same from one day to the next; only a timetable planned from today (``Anchor.TODAY``)
    moves with the calendar.
    """
    head = f"Project timetable: {table.engagement_name}"
    if sponsor:
        head += f", with {sponsor}"
    lines = [head]
    if table.stage_label:
        lines.append(f"Now: {table.stage_label}")
    if table.anchor is Anchor.TODAY:
        lines.append(f"Planned from {day(table.as_of)}: the dates set are too soon")
    for kind, title, date, detail in milestones(table):
        when = day(date) if date else ""
        text = f"{when}, {detail}" if when and detail else when or detail
        if kind is Kind.OPERATIONAL:
            lines.append(f"OPERATIONAL DATE: {text}")
        else:
            lines.append(f"{title}: {text}")
        if kind is Kind.PO:
            lines.append(f"Delivery: {table.delivery_lead_days} days from the order")
    return "\n".join(lines)
