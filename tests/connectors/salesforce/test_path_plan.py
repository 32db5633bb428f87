"""The Sales Path servefirst wants: steps, key fields and guidance from the playbook (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.path import (
    INFO_MAX,
    PathSpec,
    merged,
    path_differences,
    path_spec,
)
from servefirst.playbook.definition import Playbook

SERVEFIRST = ("Discover", "Diagnose", "Design", "Deliver", "Closed Won", "Closed Lost")
OD, SC, CONFIRMED = "Operational_Date__c", "Success_Criteria__c", "Success_Confirmed__c"


def mapping(prime: Playbook, **overrides: Any) -> SalesforceMapping:
    data: dict[str, Any] = {
        "crm": "salesforce",
        "instance_url": "https://example.my.salesforce.com",
        "auth": {"method": "token", "access_token": {"env": "SF_TOKEN"}},
        **overrides,
    }
    return SalesforceMapping.build(SalesforceConnection.model_validate(data), prime)


def rows(values: tuple[str, ...], inactive: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [{"ApiName": v, "IsActive": v not in inactive} for v in values]


def with_rule(playbook: Playbook, rule_id: str, **changes: Any) -> Playbook:
    rules = dict(playbook.rules)
    rules[rule_id] = rules[rule_id].model_copy(update=changes)
    return playbook.model_copy(update={"rules": rules})


def steps_of(spec: PathSpec) -> dict[str, dict[str, Any]]:
    return {s["picklistValueName"]: s for s in spec.steps}


def test_steps_carry_each_stage_s_key_fields_from_the_rules_on(prime: Playbook) -> None:
    spec = path_spec(mapping(prime), prime, rows(SERVEFIRST))
    assert {k: v for k, v in spec.metadata.items() if k != "pathAssistantSteps"} == {
        "active": True,
        "entityName": "Opportunity",
        "fieldName": "StageName",
        "masterLabel": "Serve-first",
        "recordTypeName": "__MASTER__",
    }
    assert [(s["picklistValueName"], s["fieldNames"]) for s in spec.steps] == [
        ("Discover", []),
        ("Diagnose", [OD]),  # operational_date_missing starts in diagnose
        ("Design", [OD, SC]),  # success_criteria_missing starts in design
        ("Deliver", [OD, SC]),
        ("Closed Won", [OD, SC, CONFIRMED]),
    ]
    assert spec.skipped == ()


def test_guidance_is_the_playbook_s_words_with_its_exit_criteria(prime: Playbook) -> None:
    steps = steps_of(path_spec(mapping(prime), prime, rows(SERVEFIRST)))
    diagnose = steps["Diagnose"]["info"]
    assert diagnose.startswith("<p>Work out with your sponsor the causes")
    assert "<li>Operational Date agreed</li>" in diagnose
    assert "<li>Sponsor named on the engagement</li>" in diagnose
    assert "Success Confirmed" in steps["Closed Won"]["info"]
    assert all(len(s["info"]) <= INFO_MAX for s in steps.values())


def test_stages_the_org_lacks_are_skipped(prime: Playbook) -> None:
    standard = ("Prospecting", "Needs Analysis", "Closed Won", "Closed Lost", "Deliver")
    m = mapping(prime, stage_map={"discover": "prospecting", "diagnose": "Needs Analysis"})
    spec = path_spec(m, prime, rows(standard, inactive=("Deliver",)))
    # the org's own spelling of a stage value, never the configured one
    assert [s["picklistValueName"] for s in spec.steps] == [
        "Prospecting",
        "Needs Analysis",
        "Closed Won",
    ]
    assert spec.skipped == ("design", "deliver")
    assert "skipped (no such active stage in the org): design, deliver" in spec.summary


def test_disabled_rules_and_configured_field_names_shape_the_key_fields(prime: Playbook) -> None:
    quiet = with_rule(prime, "success_criteria_missing", enabled=False)
    m = mapping(quiet, fields={"operational_date": "Go_Live__c"})
    steps = steps_of(path_spec(m, quiet, rows(SERVEFIRST)))
    assert steps["Design"]["fieldNames"] == ["Go_Live__c"]
    assert steps["Closed Won"]["fieldNames"] == ["Go_Live__c", CONFIRMED]
    later = with_rule(prime, "operational_date_missing", from_stage="deliver")
    steps = steps_of(path_spec(mapping(later), later, rows(SERVEFIRST)))
    assert steps["Design"]["fieldNames"] == [SC]
    assert steps["Deliver"]["fieldNames"] == [OD, SC]


def test_long_guidance_fits_salesforce_s_limit_and_is_escaped(prime: Playbook) -> None:
    stage = prime.stages[0].model_copy(
        update={
            "guidance": "Cost & risk <matter>. " * 45,
            "exit_criteria": tuple(f"criterion {n} " + "x" * 90 for n in range(8)),
        }
    )
    long = prime.model_copy(update={"stages": (stage, *prime.stages[1:])})
    info = steps_of(path_spec(mapping(long), long, rows(SERVEFIRST)))["Discover"]["info"]
    assert len(info) <= INFO_MAX
    assert "Cost &amp; risk &lt;matter&gt;." in info and "<matter>" not in info
    assert "criterion 7" not in info  # the last criteria go first
    short = stage.model_copy(update={"guidance": "Listen & learn.", "exit_criteria": ()})
    brief = prime.model_copy(update={"stages": (short, *prime.stages[1:])})
    info = steps_of(path_spec(mapping(brief), brief, rows(SERVEFIRST)))["Discover"]["info"]
    assert info == "<p>Listen &amp; learn.</p>"


@pytest.fixture
def spec(prime: Playbook) -> PathSpec:
    return path_spec(mapping(prime), prime, rows(SERVEFIRST))


def test_differences_ignore_markup_rewrites_and_an_admin_s_other_steps(spec: PathSpec) -> None:
    rewritten = [
        {**s, "info": s["info"].replace("<b>", "<strong>").replace("</b>", "</strong>")}
        for s in spec.steps
    ]
    lost = {"picklistValueName": "Closed Lost", "fieldNames": ["NextStep"], "info": "Why?"}
    existing = {**spec.metadata, "pathAssistantSteps": [*rewritten, lost], "fullName": None}
    assert path_differences(spec, existing) == []
    changed = [
        {**s, "fieldNames": []} if s["picklistValueName"] == "Design" else s for s in rewritten
    ]
    assert path_differences(spec, {**existing, "pathAssistantSteps": changed}) == ["step Design"]
    assert path_differences(spec, {**existing, "active": False}) == ["active"]
    assert path_differences(spec, {**existing, "pathAssistantSteps": rewritten[1:]}) == [
        "step Discover"
    ]


def test_merged_metadata_keeps_an_admin_s_steps_for_other_stages(spec: PathSpec) -> None:
    lost = {"picklistValueName": "Closed Lost", "fieldNames": ["NextStep"], "info": "Why?"}
    stale = {**spec.steps[1], "info": "old words"}
    existing = {
        **spec.metadata,
        "active": False,
        "pathAssistantSteps": [stale, lost],
        "fullName": "ServeFirst_Path",
    }
    body = merged(spec, existing)
    assert body["active"] is True and "fullName" not in body
    assert body["pathAssistantSteps"] == [*spec.steps, lost]
    assert path_differences(spec, body) == []
