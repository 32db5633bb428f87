"""Waivers: the legitimate way out of a finding, written by a manager in one CRM text field.

One waiver per non-empty line::

    Operational Date until 2026-09-30: the customer freezes all projects until their audit
    po_date_past until 2026-08-15 - budget signed, PO paperwork only

The name is what reps and managers see (a task group's label, a rule's label) or the rule's or
group's id, in any case and with spaces or underscores; then ``until`` and a date
(YYYY-MM-DD); then why, after a colon or a dash. A line that cannot be used is reported plainly
and waives nothing. Waiving a task group waives every rule in it.

A waiver applies up to and including its date, and only if that date is at most the playbook's
``waivers.max_days`` after the day it is read: the field carries no record of when it was
written, so "too long" is judged against the day servefirst reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from servefirst.playbook.definition import Playbook

_LINE = re.compile(
    r"^\s*(?:[-*]\s+)?(?P<name>.+?)\s+until\s+"
    r"(?P<date>\d{4}-\d{1,2}-\d{1,2}|[^\s:,\u2013\u2014]+)"
    r"\s*(?:[:\-\u2013\u2014,]\s*(?P<why>.*?))?\s*$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SHAPE = "write each waiver as: NAME until YYYY-MM-DD: why"


class WaiverState(StrEnum):
    """Whether a waiver covers a finding on a given day."""

    ACTIVE = "active"
    EXPIRED = "expired"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Waiver:
    """One usable waiver line: ``target`` is the rule id or task group key it waives."""

    line: int
    name: str
    target: str
    until: dt.date
    reason: str

    def state(self, as_of: dt.date, max_days: int) -> WaiverState:
        if self.until < as_of:
            return WaiverState.EXPIRED
        if self.until > as_of + dt.timedelta(days=max_days):
            return WaiverState.TOO_LONG
        return WaiverState.ACTIVE


@dataclass(frozen=True)
class WaiverSheet:
    """The waivers of one engagement, and the lines that could not be used (plain sentences)."""

    waivers: tuple[Waiver, ...] = ()
    problems: tuple[str, ...] = ()

    def for_finding(self, rule_id: str, group: str | None) -> Waiver | None:
        """The waiver covering a rule (directly or through its group) that runs longest."""
        matching = [w for w in self.waivers if w.target in (rule_id, group)]
        return max(matching, key=lambda w: (w.until, -w.line)) if matching else None


def _normal(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.lower()).split())


def waiver_names(playbook: Playbook) -> dict[str, str]:
    """Every name a waiver may use, normalised, mapped to the rule id or task group key."""
    names: dict[str, str] = {}
    for rule_id, rule in playbook.rules.items():
        names[_normal(rule_id)] = rule_id
        if rule.label:
            names[_normal(rule.label)] = rule_id
    for key, group in playbook.task_groups.items():
        names[_normal(key)] = key
        names[_normal(group.label)] = key
    return names


def parse_waivers(text: str | None, playbook: Playbook) -> WaiverSheet:
    """Read a waiver field; each unusable line becomes one plain problem sentence."""
    if not text:
        return WaiverSheet()
    names = waiver_names(playbook)
    waivers: list[Waiver] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        quoted = _quote(line)
        match = _LINE.match(line)
        if match is None:
            problems.append(f"Waiver line {number} {quoted} is not understood: {_SHAPE}.")
            continue
        name, date_text, why = match.group("name"), match.group("date"), match.group("why")
        target = names.get(_normal(name))
        if target is None:
            known = ", ".join(_plain_names(playbook))
            problems.append(
                f"Waiver line {number} names {_quote(name.strip())}, which the playbook does "
                f"not have; use one of: {known}."
            )
            continue
        until = _date(date_text)
        if until is None:
            problems.append(
                f"Waiver line {number} {quoted}: {_quote(date_text)} is not a date; "
                "write it as YYYY-MM-DD."
            )
            continue
        if not why:
            problems.append(f"Waiver line {number} {quoted} does not say why; {_SHAPE}.")
            continue
        waivers.append(Waiver(number, name.strip(), target, until, why))
    return WaiverSheet(tuple(waivers), tuple(problems))


def _date(text: str) -> dt.date | None:
    match = _DATE.match(text)
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _quote(line: str, limit: int = 60) -> str:
    short = line if len(line) <= limit else line[: limit - 3] + "..."
    return f"\u201c{short}\u201d"


def _plain_names(playbook: Playbook) -> list[str]:
    """The names a manager is told to use: group labels, then labels of ungrouped rules."""
    grouped = {r for g in playbook.task_groups.values() for r in g.rules}
    names = [g.label for g in playbook.task_groups.values()]
    names += [r.label or rid for rid, r in playbook.rules.items() if rid not in grouped]
    return names
