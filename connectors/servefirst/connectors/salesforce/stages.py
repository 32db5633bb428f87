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


#: The org's Opportunity stages, as provisioning and the stage-map guard read them.
STAGES_SOQL = (
    "SELECT ApiName, MasterLabel, IsActive, IsClosed, IsWon, SortOrder "
    "FROM OpportunityStage ORDER BY SortOrder"
)


def active_stage_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """StageName values of the org's active stages."""
    return [str(r.get("ApiName") or r.get("MasterLabel")) for r in rows if r.get("IsActive")]


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
    """Block moving past the stage where the Operational Date is due, while it is blank.

    The date is due in the ``from_stage`` of the ``operational_date_missing`` rule (Diagnose in
    the prime playbook): a rep works it out with the sponsor there, so the rule lets a deal
    enter that stage without it and blocks every later stage, Closed Won included. A playbook
    without the rule falls back to its second stage, as in the prime playbook. The rule fires
    only when a record is created or its stage changes (``ISNEW() || ISCHANGED(StageName)``):
    an engagement already past that stage without a date must not block servefirst's own
    writes of health and findings. The blocked stages are listed rather than the allowed ones,
    so stages of the org that are not in the playbook are never blocked.
    """
    due = _date_due_stage(playbook)
    keys = [s.key for s in playbook.stages[playbook.stage_index(due) + 1 :]] + ["won"]
    picks = ", ".join(f'ISPICKVAL(StageName, "{_formula_text(mapping.stages[k])}")' for k in keys)
    field = mapping.fields.operational_date
    formula = f"AND(OR(ISNEW(), ISCHANGED(StageName)), ISBLANK({field}), OR({picks}))"
    label = playbook.stage(due).label
    message = (
        f"Agree the Operational Date with your sponsor before moving past {label}: the date "
        "their solution will be working and meeting their success criteria."
    )[:ERROR_MESSAGE_MAX]
    metadata = {
        "active": True,
        "description": f"servefirst: an engagement moving past {label} needs an Operational "
        "Date agreed with the sponsor.",
        "errorConditionFormula": formula,
        "errorMessage": message,
        "errorDisplayField": field,
    }
    stages = ", ".join(mapping.stages[k] for k in keys)
    return ValidationRuleSpec(RULE_NAME, metadata, f"requires {field} in stages {stages}")


def _date_due_stage(playbook: Playbook) -> str:
    """The stage in which the Operational Date must be agreed (see ``validation_rule``)."""
    rule = playbook.rules.get("operational_date_missing")
    if rule is not None and rule.from_stage:
        return rule.from_stage
    return playbook.stages[min(1, len(playbook.stages) - 1)].key


def _formula_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
