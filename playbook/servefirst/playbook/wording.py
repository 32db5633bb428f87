"""The words reps read: message templates filled in, and the findings field as a colleague's note.

The findings field carries no rule id, no bracketed tag and no code: each line opens with the
severity in words a rep understands, then says what is wrong and what to do. Rule ids live on
in ``--json``, the diff file and the run history, where RevOps need them.

Where a text speaks of the sponsor and none is named yet, it says "the sponsor" and an action
starts with naming one: a task never asks a rep to talk to a placeholder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from servefirst.playbook.definition import DAILY_FIELDS, Playbook, template_fields
from servefirst.playbook.model import Engagement, Severity
from servefirst.playbook.shape import shape
from servefirst.playbook.timetable import Timetable

SEVERITY_WORDS = {Severity.ERROR: "Needs action now:", Severity.WARNING: "Worth a look:"}
NO_SPONSOR = "the sponsor"
NAME_SPONSOR_FIRST = "Name the sponsor first, then "
#: Words that keep their capital letter when an action is prefixed.
_PROPER = ("Operational Date", "PO ", "CRM ")


class Template(dict[str, object]):
    """Format values: computed on first use from ``lazy``; an unknown placeholder stays visible
    instead of raising."""

    lazy: dict[str, Callable[[], object]]

    def __missing__(self, key: str) -> object:
        make = getattr(self, "lazy", {}).get(key)
        if make is None:
            return "{" + key + "}"
        value = self[key] = make()
        return value


def sponsor_name(engagement: Engagement) -> str | None:
    """The first named sponsor, if any."""
    return next((s.name for s in engagement.sponsors if s.name), None)


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "not set"


def recommended_phrase(new_po: dt.date | None, new_od: dt.date | None) -> str:
    """The dates to agree, in words: what a date finding's fix proposes."""
    parts = []
    if new_po is not None:
        parts.append(f"a PO date on or after {new_po.isoformat()}")
    if new_od is not None:
        parts.append(f"an Operational Date on or after {new_od.isoformat()}")
    return " and ".join(parts) or "a timetable both sides can keep"


@dataclass(frozen=True)
class Wording:
    """Everything a template of one engagement may quote, and how to fill templates in."""

    values: Template
    sponsor_named: bool
    #: Placeholders whose value would differ on another as-of date (see ``date_sensitive``).
    moving: frozenset[str]

    def message(self, template: str, facts: dict[str, object] | None = None) -> str:
        """A descriptive text (a finding's message)."""
        return template.format_map(self._with(facts))

    def action(self, template: str, facts: dict[str, object] | None = None) -> str:
        """An imperative text (a fix, a task title): with no sponsor named, name one first."""
        text = template.format_map(self._with(facts))
        if self.sponsor_named or "sponsor" not in template_fields(template):
            return text
        return NAME_SPONSOR_FIRST + _lower_first(text)

    def _with(self, facts: dict[str, object] | None) -> Template:
        if not facts:
            return self.values
        values = Template(self.values)
        values.lazy = self.values.lazy
        values.update(facts)
        return values


def wording_for(
    engagement: Engagement,
    playbook: Playbook,
    table: Timetable,
    slips: int,
    recommended: tuple[dt.date | None, dt.date | None],
    sponsor: str | None,
) -> Wording:
    """The template values of one engagement on the timetable's as-of date.

    Values are computed when a template first asks for them: most texts quote two or three.
    """
    e = engagement
    label = shape(playbook).labels.get(e.stage or "")

    def days_needed() -> object:
        return shape(playbook).after[e.stage or ""] + playbook.delivery_lead_days if label else ""

    def rule_value(rule_id: str, name: str, default: object) -> object:
        rule = playbook.rules.get(rule_id)
        value = getattr(rule, name) if rule is not None else None
        return default if value is None else value

    values = Template(
        engagement=e.name,
        sponsor=sponsor or NO_SPONSOR,
        stage=label or e.raw_stage,
        slips=slips,
        days_overdue="",
    )
    values.lazy = {
        "account": lambda: e.account or "the account",
        "raw_stage": lambda: e.raw_stage,
        "po_date": lambda: _iso(e.po_date),
        "operational_date": lambda: _iso(e.operational_date),
        "max_slips": lambda: rule_value("operational_date_slipped", "max_slips", ""),
        "confirm_within_days": lambda: playbook.confirm_within_days,
        "min_days_after_po": lambda: rule_value(
            "operational_date_before_po", "min_days_after_po", 0
        ),
        "delivery_lead_days": lambda: playbook.delivery_lead_days,
        "days_needed": days_needed,
        "earliest_po_date": lambda: _iso(table.earliest_po_date),
        "earliest_operational_date": lambda: _iso(table.earliest_operational_date),
        "recommended_dates": lambda: recommended_phrase(*recommended),
    }
    moving = set(DAILY_FIELDS)
    if table.earliest_po_date is not None:
        moving.add("earliest_po_date")
    if not table.earliest_operational_fixed:
        moving.add("earliest_operational_date")
    new_po, new_od = recommended
    if new_po is not None or (new_od is not None and not table.earliest_operational_fixed):
        moving.add("recommended_dates")
    return Wording(values=values, sponsor_named=sponsor is not None, moving=frozenset(moving))


def _lower_first(text: str) -> str:
    if not text or text.startswith(_PROPER) or (len(text) > 1 and text[1].isupper()):
        return text
    return text[0].lower() + text[1:]


@dataclass(frozen=True)
class Note:
    """One entry of the findings field: one finding, or the findings one task group shares."""

    severity: Severity
    order: int
    messages: tuple[str, ...]
    fix: str
    waived_until: dt.date | None = None
    waiver_reason: str = ""
    remarks: tuple[str, ...] = ()

    def line(self) -> str:
        body = " ".join((*self.messages, self.fix, *self.remarks))
        if self.waived_until is None:
            return f"{SEVERITY_WORDS[self.severity]} {body}"
        head = f"Waived until {self.waived_until.isoformat()}:"
        return f"{head} {' '.join(self.messages)} Reason given: {_sentence(self.waiver_reason)}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def findings_text(notes: list[Note], problems: tuple[str, ...] = ()) -> str | None:
    """The findings field: what needs action first, then what is worth a look, then waivers.

    ``None`` (an empty field) when there is nothing to say. Deterministic on purpose: no
    timestamp, no counter, so an unchanged engagement never causes a write.
    """
    active = sorted(
        (n for n in notes if n.waived_until is None),
        key=lambda n: (n.severity is not Severity.ERROR, n.order),
    )
    waived = sorted((n for n in notes if n.waived_until is not None), key=lambda n: n.order)
    lines = [n.line() for n in (*active, *waived)] + list(problems)
    return "\n".join(lines) or None
