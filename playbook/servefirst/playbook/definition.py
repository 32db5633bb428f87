"""The playbook as RevOps write it: stages, timings and the tunable side of every rule.

A rule's *logic* is code (see ``rules``); everything a RevOps team might reasonably want to tune
without a release lives here: whether it runs, from which stage, its thresholds, its severity,
its action, and the words the rep reads. The models forbid unknown keys so that a misspelt key in
``playbook.yaml`` is an error with a line number, never a silently ignored setting.
"""

from __future__ import annotations

import string
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servefirst.playbook.model import Action, Severity

StageKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
CLOSED_STAGES = ("won", "lost")

RULE_IDS = (
    "sponsor_missing",
    "success_criteria_missing",
    "operational_date_missing",
    "operational_date_before_po",
    "operational_date_past",
    "po_date_past",
    "operational_date_infeasible",
    "success_unconfirmed",
    "operational_date_slipped",
    "stage_unmapped",
)

#: Placeholders a rule's message, fix and task title may use. Unknown ones are config errors.
TEMPLATE_FIELDS = frozenset(
    {
        "engagement",
        "account",
        "sponsor",
        "stage",
        "raw_stage",
        "po_date",
        "operational_date",
        "days_needed",
        "earliest_operational_date",
        "slips",
        "max_slips",
        "confirm_within_days",
        "min_days_after_po",
        "days_overdue",
    }
)


class LocatedError(ValueError):
    """A validation problem that knows which key inside the model it is about.

    Pydantic reports model-level checks at the model's own location; raising this instead lets
    the config loader point at the exact line of the offending key (``from_stage: dicsover``).
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageDef(_Strict):
    """One open stage of the engagement timetable, with the guidance a rep reads in the CRM."""

    key: StageKey
    label: Annotated[str, Field(min_length=1, max_length=40)]
    typical_days: Annotated[int, Field(ge=1, le=365)]
    guidance: Annotated[str, Field(min_length=1, max_length=1000)]
    exit_criteria: tuple[str, ...] = ()


class ClosedStages(_Strict):
    """CRM-facing labels of the two closed stages."""

    won: str = "Closed Won"
    lost: str = "Closed Lost"


class RuleDef(_Strict):
    """The tunable side of one rule. Thresholds a rule does not use are rejected by validation."""

    enabled: bool = True
    severity: Severity
    action: Action
    from_stage: StageKey | None = None
    min_days_after_po: Annotated[int | None, Field(ge=-365, le=3650)] = None
    confirm_within_days: Annotated[int | None, Field(ge=0, le=3650)] = None
    max_slips: Annotated[int | None, Field(ge=0, le=100)] = None
    autofill: bool = False
    message: Annotated[str, Field(min_length=1, max_length=500)]
    fix: Annotated[str, Field(min_length=1, max_length=500)]
    task_title: Annotated[str | None, Field(min_length=1, max_length=200)] = None

    @model_validator(mode="after")
    def _templates_known(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name in ("message", "fix", "task_title"):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                fields = [field for _, field, _, _ in string.Formatter().parse(text)]
            except ValueError as exc:
                problems.append(((name,), f"{name} is not a valid template: {exc}"))
                continue
            for field in fields:
                if field is not None and field not in TEMPLATE_FIELDS:
                    known = ", ".join(sorted(TEMPLATE_FIELDS))
                    problems.append(
                        ((name,), f"{name} uses unknown placeholder {{{field}}}; known: {known}")
                    )
        if self.action is Action.TASK and self.task_title is None:
            problems.append((("action",), "action 'task' needs a task_title"))
        if problems:
            raise LocatedError(problems)
        return self


#: Which optional settings each rule understands; anything else set on it is a config error.
RULE_PARAMS: dict[str, frozenset[str]] = {
    "sponsor_missing": frozenset({"from_stage"}),
    "success_criteria_missing": frozenset({"from_stage"}),
    "operational_date_missing": frozenset({"from_stage", "autofill"}),
    "operational_date_before_po": frozenset({"min_days_after_po"}),
    "operational_date_past": frozenset(),
    "po_date_past": frozenset(),
    "operational_date_infeasible": frozenset(),
    "success_unconfirmed": frozenset({"confirm_within_days"}),
    "operational_date_slipped": frozenset({"max_slips"}),
    "stage_unmapped": frozenset(),
}
_REQUIRED_PARAMS: dict[str, frozenset[str]] = {
    "sponsor_missing": frozenset({"from_stage"}),
    "success_criteria_missing": frozenset({"from_stage"}),
    "operational_date_missing": frozenset({"from_stage"}),
    "operational_date_before_po": frozenset({"min_days_after_po"}),
    "success_unconfirmed": frozenset({"confirm_within_days"}),
    "operational_date_slipped": frozenset({"max_slips"}),
}
_OPTIONAL = ("from_stage", "min_days_after_po", "confirm_within_days", "max_slips", "autofill")


class Playbook(_Strict):
    """A whole playbook: the timetable and the rules that keep engagements honest about it."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    delivery_lead_days: Annotated[int, Field(ge=0, le=3650)] = 30
    task_due_in_days: Annotated[int, Field(ge=0, le=365)] = 3
    stages: Annotated[tuple[StageDef, ...], Field(min_length=1, max_length=20)]
    closed_stages: ClosedStages = Field(default_factory=ClosedStages)
    rules: dict[str, RuleDef]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        keys = [s.key for s in self.stages]
        seen: set[str] = set()
        for index, key in enumerate(keys):
            where_stage: tuple[str | int, ...] = ("stages", index, "key")
            if key in seen:
                problems.append(
                    (where_stage, f"stage key {key!r} appears twice; keys must be unique")
                )
            if key in CLOSED_STAGES:
                problems.append((where_stage, f"stage key {key!r} is reserved for closed stages"))
            seen.add(key)
        for rule_id, rule in self.rules.items():
            where: tuple[str | int, ...] = ("rules", rule_id)
            if rule_id not in RULE_PARAMS:
                problems.append((where, f"unknown rule {rule_id!r}; known: {', '.join(RULE_IDS)}"))
                continue
            allowed = RULE_PARAMS[rule_id]
            for param in _OPTIONAL:
                value = getattr(rule, param)
                if value not in (None, False) and param not in allowed:
                    problems.append(((*where, param), f"rule {rule_id!r} does not use {param!r}"))
            problems.extend(
                (where, f"rule {rule_id!r} needs {param!r}")
                for param in sorted(_REQUIRED_PARAMS.get(rule_id, frozenset()))
                if getattr(rule, param) is None
            )
            if rule.from_stage is not None and rule.from_stage not in seen:
                problems.append(
                    (
                        (*where, "from_stage"),
                        f"rule {rule_id!r} starts from unknown stage {rule.from_stage!r}; "
                        f"stages: {', '.join(keys)}",
                    )
                )
        if problems:
            raise LocatedError(problems)
        return self

    def stage_index(self, key: str) -> int:
        """Position of an open stage in the timetable (0 for the first)."""
        return [s.key for s in self.stages].index(key)

    def stage(self, key: str) -> StageDef:
        return self.stages[self.stage_index(key)]

    def days_still_needed(self, key: str) -> int:
        """Typical days of the stages after ``key``, plus delivery lead time after the PO."""
        after = self.stages[self.stage_index(key) + 1 :]
        return sum(s.typical_days for s in after) + self.delivery_lead_days
