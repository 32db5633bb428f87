"""What evaluation looks up about a playbook again and again, computed once per playbook.

A playbook is immutable once validated, so its stage order, the days still to go from each
stage and which task group each rule belongs to never change; evaluating tens of thousands of
engagements should not rebuild them for each one. A changed playbook (``model_copy`` included)
is a new object and gets its own shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from servefirst.playbook.definition import Playbook


@dataclass(frozen=True)
class Shape:
    """Lookup tables of one playbook."""

    keys: tuple[str, ...]
    index: dict[str, int]
    labels: dict[str, str]
    #: Typical days of the stages after each stage (0 after the last).
    after: dict[str, int]
    group_of: dict[str, str]

    def still_needed(self, stage: str, lead: int) -> int:
        return self.after[stage] + lead


_CACHE: dict[int, tuple[Playbook, Shape]] = {}
_LIMIT = 64


def shape(playbook: Playbook) -> Shape:
    """The shape of ``playbook`` (cached by identity; the cache holds the playbook alive)."""
    hit = _CACHE.get(id(playbook))
    if hit is not None and hit[0] is playbook:
        return hit[1]
    keys = tuple(s.key for s in playbook.stages)
    days = [s.typical_days for s in playbook.stages]
    made = Shape(
        keys=keys,
        index={k: i for i, k in enumerate(keys)},
        labels={s.key: s.label for s in playbook.stages},
        after={k: sum(days[i + 1 :]) for i, k in enumerate(keys)},
        group_of={r: g for g, group in playbook.task_groups.items() for r in group.rules},
    )
    if len(_CACHE) >= _LIMIT:
        _CACHE.clear()
    _CACHE[id(playbook)] = (playbook, made)
    return made
