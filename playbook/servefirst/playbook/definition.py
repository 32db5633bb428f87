"""The playbook as RevOps write it: stages, timings and the tunable side of every rule.

A rule's *logic* is code (see ``rules``); everything a RevOps team might reasonably want to tune
without a release lives here: whether it runs, from which stage, its thresholds, its severity,
its action, and the words the rep reads. The models forbid unknown keys so that a misspelt key in
``playbook.yaml`` is an error with a line number, never a silently ignored setting.
"""

from __future__ import annotations

import functools
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
        "delivery_lead_days",
        "earliest_po_date",
        "recommended_dates",
    }
)

#: Placeholders whose value moves every day for as long as a finding holds: a text using them
#: is rewritten daily (``validate`` warns about them).
DAILY_FIELDS = frozenset({"days_overdue"})


@functools.lru_cache(maxsize=1024)
def template_fields(text: str) -> tuple[str, ...]:
    """The placeholder names a message template uses (raises ``ValueError`` if malformed)."""
    return tuple(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def _template_problems(
    owner: BaseModel, names: tuple[str, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name in names:
        text = getattr(owner, name)
        if text is None:
            continue
        try:
            fields = template_fields(text)
        except ValueError as exc:
            problems.append(((name,), f"{name} is not a valid template: {exc}"))
            continue
        known = ", ".join(sorted(TEMPLATE_FIELDS))
        problems.extend(
            ((name,), f"{name} uses unknown placeholder {{{field}}}; known: {known}")
            for field in fields
            if field not in TEMPLATE_FIELDS
        )
    return problems


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
    """The tunable side of one rule. Thresholds a rule does not use are rejected by validation.

    ``label`` is the plain name managers use for the rule (in a waiver, say); ``fix`` may be
    left out for a rule in a task group, whose own ``fix`` then applies.
    """

    enabled: bool = True
    label: Annotated[str | None, Field(min_length=1, max_length=80)] = None
    severity: Severity
    action: Action
    from_stage: StageKey | None = None
    min_days_after_po: Annotated[int | None, Field(ge=-365, le=3650)] = None
    confirm_within_days: Annotated[int | None, Field(ge=0, le=3650)] = None
    max_slips: Annotated[int | None, Field(ge=0, le=100)] = None
    autofill: bool = False
    message: Annotated[str, Field(min_length=1, max_length=500)]
    fix: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    task_title: Annotated[str | None, Field(min_length=1, max_length=200)] = None

    @model_validator(mode="after")
    def _templates_known(self) -> Self:
        problems = _template_problems(self, ("message", "fix", "task_title"))
        if problems:
            raise LocatedError(problems)
        return self


class TaskGroup(_Strict):
    """Rules that one action fixes: their findings share one task, whose body lists them all.

    ``label`` is the plain name reps and managers see (a waiver may name it).
    """

    label: Annotated[str, Field(min_length=1, max_length=80)]
    rules: Annotated[tuple[str, ...], Field(min_length=1)]
    task_title: Annotated[str, Field(min_length=1, max_length=200)]
    fix: Annotated[str, Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _templates_known(self) -> Self:
        problems = _template_problems(self, ("task_title", "fix"))
        if problems:
            raise LocatedError(problems)
        return self


class WaiverPolicy(_Strict):
    """Who may waive a finding, and for how long at most.

    ``who_may_waive`` names the CRM role or permission whose holders may edit the waiver field;
    provisioning notes it for the admin. A waiver running further than ``max_days`` from the day
    it is read does not apply, so nobody waives a rule for good.
    """

    who_may_waive: Annotated[str, Field(min_length=1, max_length=80)] = "Sales Manager"
    max_days: Annotated[int, Field(ge=1, le=365)] = 90


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
    task_groups: dict[StageKey, TaskGroup] = Field(default_factory=dict)
    waivers: WaiverPolicy = Field(default_factory=WaiverPolicy)

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
        grouped = {r for g in self.task_groups.values() for r in g.rules}.__contains__
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
            if rule.action is Action.TASK and rule.task_title is None and not grouped(rule_id):
                problems.append(((*where, "action"), "action 'task' needs a task_title"))
            if rule.fix is None and not grouped(rule_id):
                problems.append((where, f"rule {rule_id!r} needs a fix (or a task group's)"))
            if rule.from_stage is not None and rule.from_stage not in seen:
                problems.append(
                    (
                        (*where, "from_stage"),
                        f"rule {rule_id!r} starts from unknown stage {rule.from_stage!r}; "
                        f"stages: {', '.join(keys)}",
                    )
                )
        problems.extend(_group_problems(self))
        problems.extend(_lead_problems(self))
        if problems:
            raise LocatedError(problems)
        return self

    def group_of(self, rule_id: str) -> str | None:
        """The task group a rule belongs to, if any."""
        for key, group in self.task_groups.items():
            if rule_id in group.rules:
                return key
        return None

    @property
    def confirm_within_days(self) -> int:
        """Days after the Operational Date by which the sponsor should confirm success."""
        rule = self.rules.get("success_unconfirmed")
        if rule is None or rule.confirm_within_days is None:
            return 14
        return rule.confirm_within_days

    def stage_index(self, key: str) -> int:
        """Position of an open stage in the timetable (0 for the first)."""
        return [s.key for s in self.stages].index(key)

    def stage(self, key: str) -> StageDef:
        return self.stages[self.stage_index(key)]

    def days_still_needed(self, key: str) -> int:
        """Typical days of the stages after ``key``, plus delivery lead time after the PO."""
        after = self.stages[self.stage_index(key) + 1 :]
        return sum(s.typical_days for s in after) + self.delivery_lead_days


def _group_problems(playbook: Playbook) -> list[tuple[tuple[str | int, ...], str]]:
    """Task groups name known rules, each rule at most once, and never shadow a rule id."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    owner: dict[str, str] = {}
    for key, group in playbook.task_groups.items():
        where: tuple[str | int, ...] = ("task_groups", key)
        if key in RULE_PARAMS:
            problems.append((where, f"task group {key!r} has a rule's name; pick another"))
        for index, rule_id in enumerate(group.rules):
            at = (*where, "rules", index)
            if rule_id not in playbook.rules:
                known = ", ".join(playbook.rules)
                problems.append(
                    (at, f"task group {key!r} names unknown rule {rule_id!r}; rules: {known}")
                )
            elif rule_id in owner:
                problems.append(
                    (
                        at,
                        f"rule {rule_id!r} is in task groups {owner[rule_id]!r} "
                        f"and {key!r}; a rule belongs to one group at most",
                    )
                )
            else:
                owner[rule_id] = key
    return problems


def _lead_problems(playbook: Playbook) -> list[tuple[tuple[str | int, ...], str]]:
    """The timetable's earliest Operational Date (PO + lead) must satisfy the PO-gap rule."""
    rule = playbook.rules.get("operational_date_before_po")
    if rule is None or not rule.enabled:
        return []
    gap = rule.min_days_after_po or 0
    if gap <= playbook.delivery_lead_days:
        return []
    where = ("rules", "operational_date_before_po", "min_days_after_po")
    return [
        (
            where,
            f"min_days_after_po ({gap}) exceeds delivery_lead_days "
            f"({playbook.delivery_lead_days}): the timetable's earliest Operational Date "
            "would itself be flagged; lower it or raise delivery_lead_days",
        )
    ]


def daily_placeholders(playbook: Playbook) -> list[tuple[tuple[str | int, ...], str]]:
    """Texts using a placeholder whose value changes every day while the finding holds.

    Such a text is rewritten in the CRM every day (and, between full scans, can only stay
    current because the engine re-reads those engagements daily): worth a warning, not an error.
    """
    found: list[tuple[tuple[str | int, ...], str]] = []
    texts: list[tuple[tuple[str | int, ...], str | None]] = []
    for rule_id, rule in playbook.rules.items():
        texts += [(("rules", rule_id, n), getattr(rule, n)) for n in ("message", "fix")]
        texts.append((("rules", rule_id, "task_title"), rule.task_title))
    for key, group in playbook.task_groups.items():
        texts += [(("task_groups", key, n), getattr(group, n)) for n in ("fix", "task_title")]
    for loc, text in texts:
        for field in sorted(set(template_fields(text or "")) & DAILY_FIELDS):
            where = ".".join(str(p) for p in loc)
            found.append(
                (
                    loc,
                    f"{where} uses {{{field}}}, which changes every day: the CRM field is "
                    "rewritten daily for as long as the finding holds",
                )
            )
    return found
