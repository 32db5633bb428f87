"""Stage mapping checks and the optional Operational Date validation rule (pure functions).

Opportunity stages live in a standard value set that only the Metadata API can change, which
servefirst does not use: it maps playbook stages onto the org's existing StageName values and,
where one is missing, tells the admin precisely what to add in Setup or how to map it instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from servefirst.connectors.base import ProvisionStep
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.playbook.definition import Playbook

RULE_NAME = "ServeFirst_Operational_Date_Required"
ERROR_MESSAGE_MAX = 255
_SETUP_PATH = "Setup > Object Manager > Opportunity > Fields & Relationships > Stage > Values"


def stage_steps(
    mapping: SalesforceMapping, rows: Iterable[Mapping[str, Any]]
) -> list[ProvisionStep]:
    """One step per playbook stage: mapped (``none``) or what an admin must do (``manual``)."""
    by_value = {str(r.get("ApiName") or r.get("MasterLabel")).casefold(): r for r in rows}
    active = [str(r.get("ApiName")) for r in by_value.values() if r.get("IsActive")]
    listed = ", ".join(f"'{v}'" for v in active) or "none"
    steps = []
    for key, value in mapping.stages.items():
        row = by_value.get(value.casefold())
        kind = {"won": "closed and won", "lost": "closed and not won"}.get(key, "open")
        if row is None:
            detail = (
                f"the org has no stage '{value}'. Add it in {_SETUP_PATH} > New as an {kind} "
                f"stage and add it to your sales processes, or map playbook stage '{key}' onto "
                f'an existing stage in servefirst.toml: stage_map.{key} = "<stage>". '
                f"Existing stages: {listed}"
            )
            steps.append(ProvisionStep("stage", key, "manual", detail))
        elif not row.get("IsActive"):
            detail = f"stage '{value}' exists but is inactive: activate it in {_SETUP_PATH}"
            steps.append(ProvisionStep("stage", key, "manual", detail))
        elif (bool(row.get("IsClosed")), bool(row.get("IsWon"))) != (
            key in ("won", "lost"),
            key == "won",
        ):
            detail = (
                f"stage '{value}' is not an {kind} stage in Salesforce, but playbook stage "
                f"'{key}' needs one: map '{key}' onto another stage with stage_map.{key}"
            )
            steps.append(ProvisionStep("stage", key, "manual", detail))
        else:
            steps.append(ProvisionStep("stage", key, "none", f"mapped to StageName '{value}'"))
    return steps


@dataclass(frozen=True)
class ValidationRuleSpec:
    """The Tooling API body of the validation rule and how the report describes it."""

    name: str
    metadata: dict[str, Any]
    summary: str

    @property
    def full_name(self) -> str:
        return f"Opportunity.{self.name}"


def validation_rule(mapping: SalesforceMapping, playbook: Playbook) -> ValidationRuleSpec:
    """Block entering a stage that needs an Operational Date without one.

    The stages are those from which the ``operational_date_missing`` rule expects the date
    (Diagnose onwards in the prime playbook), plus won. The rule fires only when a record is
    created or its stage changes (``ISNEW() || ISCHANGED(StageName)``): an engagement already
    past Discover without a date must not block servefirst's own writes of health and findings.
    """
    rule = playbook.rules.get("operational_date_missing")
    first = rule.from_stage if rule is not None and rule.from_stage else None
    if first is None:
        first = playbook.stages[min(1, len(playbook.stages) - 1)].key
    start = playbook.stage_index(first)
    keys = [s.key for s in playbook.stages[start:]] + ["won"]
    picks = ", ".join(f'ISPICKVAL(StageName, "{_formula_text(mapping.stages[k])}")' for k in keys)
    field = mapping.fields.operational_date
    formula = f"AND(OR(ISNEW(), ISCHANGED(StageName)), ISBLANK({field}), OR({picks}))"
    before = playbook.stages[start - 1].label if start > 0 else None
    where = f"moving past {before}" if before else f"moving to {playbook.stages[start].label}"
    message = (
        f"Agree the Operational Date with your sponsor before {where}: the date their "
        "solution will be working and meeting their success criteria."
    )[:ERROR_MESSAGE_MAX]
    metadata = {
        "active": True,
        "description": "servefirst: an engagement past its first stage needs an Operational "
        "Date agreed with the sponsor.",
        "errorConditionFormula": formula,
        "errorMessage": message,
        "errorDisplayField": field,
    }
    stages = ", ".join(mapping.stages[k] for k in keys)
    return ValidationRuleSpec(RULE_NAME, metadata, f"requires {field} in stages {stages}")


def _formula_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
