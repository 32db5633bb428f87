"""Pure provisioning logic: field specs and comparison, stage mapping steps, validation rule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import SalesforceConnection, SalesforceFields
from servefirst.connectors.salesforce.fields import differences, field_specs
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.sandbox.formula import Context, compile_formula
from servefirst.connectors.salesforce.sandbox.objects import data_objects, picklist
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, FieldType
from servefirst.connectors.salesforce.stages import stage_steps, validation_rule
from servefirst.playbook.definition import Playbook

SERVEFIRST_STAGES = [
    ("Discover", False, False),
    ("Diagnose", False, False),
    ("Design", False, False),
    ("Deliver", False, False),
    ("Closed Won", True, True),
    ("Closed Lost", True, False),
]


@pytest.fixture(scope="module")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


def mapping(prime: Playbook, **overrides: Any) -> SalesforceMapping:
    data: dict[str, Any] = {
        "crm": "salesforce",
        "instance_url": "https://example.my.salesforce.com",
        "auth": {"method": "token", "access_token": {"env": "SF_TOKEN"}},
    }
    data.update(overrides)
    return SalesforceMapping.build(SalesforceConnection.model_validate(data), prime)


def rows(
    stages: list[tuple[str, bool, bool]], inactive: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    return [
        {"ApiName": n, "MasterLabel": n, "IsActive": n not in inactive, "IsClosed": c, "IsWon": w}
        for n, c, w in stages
    ]


def test_specs_cover_playbook_fields_with_rep_facing_help() -> None:
    specs = {s.full_name: s for s in field_specs(SalesforceFields())}
    assert sorted(specs) == [
        "Activity.ServeFirst_Key__c",
        "Opportunity.Operational_Date_Slips__c",
        "Opportunity.Operational_Date__c",
        "Opportunity.Playbook_Findings__c",
        "Opportunity.Playbook_Health__c",
        "Opportunity.Playbook_Timetable__c",
        "Opportunity.Playbook_Waiver__c",
        "Opportunity.Success_Confirmed__c",
        "Opportunity.Success_Criteria__c",
    ]
    types = {name: spec.metadata["type"] for name, spec in specs.items()}
    assert types["Opportunity.Operational_Date__c"] == "Date"
    assert types["Opportunity.Playbook_Health__c"] == "Picklist"
    assert types["Activity.ServeFirst_Key__c"] == "Text"
    health = specs["Opportunity.Playbook_Health__c"].metadata["valueSet"]
    assert health["restricted"] is True
    assert [v["fullName"] for v in health["valueSetDefinition"]["value"]] == [
        "On track",
        "At risk",
        "Off track",
    ]
    key = specs["Activity.ServeFirst_Key__c"]
    assert key.metadata["externalId"] and key.metadata["unique"]
    assert key.permission_fields() == ("Task.ServeFirst_Key__c",)
    for spec in specs.values():
        assert spec.developer_name == spec.api_name.removesuffix("__c")
        assert len(spec.metadata["inlineHelpText"]) <= 510
        help_text = spec.metadata["inlineHelpText"].lower()
        assert "sponsor" in help_text or spec.table == "Activity" or "managers" in help_text
    # servefirst writes every field but the waiver, which managers own and it only reads
    assert [s.api_name for s in specs.values() if not s.integration_edit] == ["Playbook_Waiver__c"]


def test_standard_fields_in_the_mapping_are_not_provisioned() -> None:
    names = {s.api_name for s in field_specs(SalesforceFields(operational_date="CloseDate"))}
    assert "CloseDate" not in names and "Operational_Date__c" not in names


def test_differences_ignore_salesforce_defaults_but_see_label_help_and_values() -> None:
    spec = {s.api_name: s for s in field_specs(SalesforceFields())}["Playbook_Health__c"]
    existing = {**spec.metadata, "required": False, "trackHistory": False, "externalId": None}
    assert differences(spec, existing) == []
    assert differences(spec, {**existing, "label": "Health"}) == ["label"]
    changed = {
        "restricted": True,
        "valueSetDefinition": {"sorted": False, "value": [{"fullName": "Green", "label": "Green"}]},
    }
    assert differences(spec, {**existing, "valueSet": changed, "inlineHelpText": None}) == [
        "inlineHelpText",
        "valueSet",
    ]
    slips = {s.api_name: s for s in field_specs(SalesforceFields())}["Operational_Date_Slips__c"]
    assert differences(slips, {**slips.metadata, "precision": 3.0, "scale": 0.0}) == []


def test_stages_all_present_need_nothing(prime: Playbook) -> None:
    steps = stage_steps(mapping(prime), rows(SERVEFIRST_STAGES))
    assert [(s.name, s.action) for s in steps] == [
        (k, "none") for k in ("discover", "diagnose", "design", "deliver", "won", "lost")
    ]


def test_missing_inactive_and_mismatched_stages_are_manual_steps(prime: Playbook) -> None:
    standard = [
        ("Prospecting", False, False),
        ("Qualification", False, False),
        ("Closed Won", True, True),
        ("Closed Lost", True, False),
        ("Design", True, False),
        ("Deliver", False, False),
    ]
    m = mapping(prime, stage_map={"discover": "Prospecting", "diagnose": "Qualification"})
    steps = {s.name: s for s in stage_steps(m, rows(standard, inactive=("Deliver",)))}
    assert steps["discover"].action == "none"
    assert steps["design"].action == "manual" and "not an open stage" in steps["design"].detail
    assert steps["deliver"].action == "manual" and "inactive" in steps["deliver"].detail
    lost = stage_steps(mapping(prime, stage_map={"lost": "Lost"}), rows(standard))[-1]
    assert lost.action == "manual"
    assert "no stage 'Lost'" in lost.detail and 'stage_map.lost = "<stage>"' in lost.detail
    assert "'Prospecting'" in lost.detail  # lists what exists, so the admin can map instead


def test_validation_rule_blocks_stages_after_the_date_is_due(prime: Playbook) -> None:
    rule = validation_rule(mapping(prime), prime)
    formula = rule.metadata["errorConditionFormula"]
    assert formula.startswith(
        "AND(OR(ISNEW(), ISCHANGED(StageName)), ISBLANK(Operational_Date__c), OR("
    )
    for stage in ("Design", "Deliver", "Closed Won"):
        assert f'ISPICKVAL(StageName, "{stage}")' in formula
    for stage in ("Discover", "Diagnose", "Closed Lost"):
        assert f'"{stage}"' not in formula
    assert "moving past Diagnose" in rule.metadata["errorMessage"]
    assert "sponsor" in rule.metadata["errorMessage"]
    assert len(rule.metadata["errorMessage"]) <= 255
    assert rule.metadata["errorDisplayField"] == "Operational_Date__c"
    assert rule.full_name == "Opportunity.ServeFirst_Operational_Date_Required"
    assert len(rule.name) <= 40
    assert rule.summary == ("requires Operational_Date__c in stages Design, Deliver, Closed Won")


def test_validation_rule_follows_the_playbook_rule_stage(prime: Playbook) -> None:
    rules = dict(prime.rules)
    rules["operational_date_missing"] = rules["operational_date_missing"].model_copy(
        update={"from_stage": "design"}
    )
    later = prime.model_copy(update={"rules": rules})
    rule = validation_rule(mapping(later), later)
    assert "moving past Design" in rule.metadata["errorMessage"]
    assert rule.summary.endswith("stages Deliver, Closed Won")
    del rules["operational_date_missing"]
    without = prime.model_copy(update={"rules": rules})
    assert (
        "moving past Diagnose"
        in validation_rule(mapping(without), without).metadata["errorMessage"]
    )


@pytest.mark.parametrize(
    ("old_stage", "new_stage", "date", "blocked"),
    [
        ("Discover", "Diagnose", None, False),  # the date is agreed in Diagnose
        ("Diagnose", "Design", None, True),
        ("Diagnose", "Design", dt.date(2027, 3, 1), False),
        ("Design", "Deliver", None, True),
        ("Deliver", "Closed Won", None, True),
        ("Deliver", "Closed Lost", None, False),
        ("Design", "Diagnose", None, False),  # moving back is fine
        ("Design", "Design", None, False),  # servefirst's own writes: the stage is unchanged
        (None, "Design", None, True),  # created straight into a later stage
        (None, "Diagnose", None, False),
    ],
)
def test_sandbox_evaluates_the_rule_as_intended(
    prime: Playbook,
    old_stage: str | None,
    new_stage: str,
    date: dt.date | None,
    blocked: bool,
) -> None:
    stages = picklist(tuple(label for label, _, _ in SERVEFIRST_STAGES))
    opportunity = data_objects(stages).objects["Opportunity"]
    opportunity.put_field(
        FieldDef("Operational_Date__c", FieldType.DATE, "Operational Date", custom=True)
    )
    formula = validation_rule(mapping(prime), prime).metadata["errorConditionFormula"]
    evaluate = compile_formula(formula, opportunity)
    new = {"StageName": new_stage, "Operational_Date__c": date}
    old = None if old_stage is None else {"StageName": old_stage, "Operational_Date__c": date}
    assert bool(evaluate(Context(new, old, dt.date(2027, 1, 1)))) is blocked


def test_validation_rule_quotes_mapped_stage_values(prime: Playbook) -> None:
    rule = validation_rule(mapping(prime, stage_map={"design": 'Design "A"'}), prime)
    assert 'ISPICKVAL(StageName, "Design \\"A\\"")' in rule.metadata["errorConditionFormula"]
