"""What evaluation looks up about a playbook again and again, computed once per playbook.

A playbook is immutable once validated, so its stage order, the days still to go from each
stage and which task group each rule belongs to never change; evaluating tens of thousands of
engagements should not rebuild them for each one. A changed playbook (``model_copy`` included)
is a new object and gets its own shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from servefirst.playbook.definition import Playbook, template_fields


@dataclass(frozen=True)
class Shape:
    """Lookup tables of one playbook."""

    keys: tuple[str, ...]
    index: dict[str, int]
    labels: dict[str, str]
    #: Typical days of the stages after each stage (0 after the last).
    after: dict[str, int]
    group_of: dict[str, str]
    #: Per stage, the stages after it as (key, label, typical days, days from their end to the
    #: PO date): what a timetable plans backwards from the PO date.
    plans_after: dict[str, tuple[tuple[str, str, int, dt.timedelta], ...]]
    lead: dt.timedelta
    confirm_within_days: int
    #: Per rule, the placeholders its texts use (message, fix and task title, its group's
    #: where it has one): which of them move with the calendar decides date sensitivity.
    fields_of: dict[str, frozenset[str]]


_CACHE: dict[int, tuple[Playbook, Shape]] = {}
_LIMIT = 64


def shape(playbook: Playbook) -> Shape:
    """The shape of ``playbook`` (cached by identity; the cache holds the playbook alive)."""
    hit = _CACHE.get(id(playbook))
    if hit is not None and hit[0] is playbook:
        return hit[1]
    keys = tuple(s.key for s in playbook.stages)
    group_of = {r: g for g, group in playbook.task_groups.items() for r in group.rules}
    days = [s.typical_days for s in playbook.stages]
    plans_after = {
        key: tuple(
            (s.key, s.label, s.typical_days, dt.timedelta(days=sum(days[j + 1 :])))
            for j, s in enumerate(playbook.stages)
            if j > i
        )
        for i, key in enumerate(keys)
    }
    fields_of = {}
    for rule_id, rule in playbook.rules.items():
        group = playbook.task_groups.get(group_of.get(rule_id, ""))
        texts: tuple[str | None, ...] = (rule.message, rule.fix, rule.task_title)
        texts += (group.fix, group.task_title) if group else ()
        fields_of[rule_id] = frozenset(f for t in texts if t for f in template_fields(t))
    made = Shape(
        keys=keys,
        index={k: i for i, k in enumerate(keys)},
        labels={s.key: s.label for s in playbook.stages},
        after={k: sum(days[i + 1 :]) for i, k in enumerate(keys)},
        group_of=group_of,
        plans_after=plans_after,
        lead=dt.timedelta(days=playbook.delivery_lead_days),
        confirm_within_days=playbook.confirm_within_days,
        fields_of=fields_of,
    )
    if len(_CACHE) >= _LIMIT:
        _CACHE.clear()
    _CACHE[id(playbook)] = (playbook, made)
    return made
