"""Provisioning a fresh org through the Tooling and REST APIs; a second run changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from servefirst.connectors.base import FieldChange, Plan, PullWindow, RecordUpdate, mapped
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError
from servefirst.playbook.model import Health

ConnectorFor = Callable[..., SalesforceConnector]


def writes(sandbox: RunningSandbox) -> dict[str, int]:
    by_endpoint: dict[str, int] = sandbox.admin.stats()["by_endpoint"]
    return {k: v for k, v in by_endpoint.items() if not k.startswith("GET ")}


@pytest.fixture
def fresh(new_sandbox: Callable[..., RunningSandbox]) -> Iterator[RunningSandbox]:
    sandbox = new_sandbox()
    yield sandbox
    sandbox.stop()


Provisioned = Callable[..., tuple[SalesforceConnector, Any]]


@pytest.fixture
def provisioned(
    fresh: RunningSandbox,
    connector_for: ConnectorFor,
    prime: Playbook,
    rep: Callable[[RunningSandbox], Any],
) -> Iterator[Provisioned]:
    """A function that provisions the fresh org (keywords override connection settings).

    It returns the connector and a rep's own client; both are closed after the test, also
    when it fails, so a failing test cannot leave pools open on a stopped org.
    """
    opened: list[tuple[SalesforceConnector, Any]] = []

    def provision(**overrides: Any) -> tuple[SalesforceConnector, Any]:
        connector = connector_for(fresh, **overrides)
        connector.provision(prime, dry_run=False)
        opened.append((connector, rep(fresh)))
        return opened[-1]

    yield provision
    for connector, sf in opened:
        sf.session.close()
        connector.close()


def test_dry_run_plans_everything_and_writes_nothing(
    fresh: RunningSandbox, connector_for: ConnectorFor, prime: Playbook
) -> None:
    connector = connector_for(fresh)
    report = connector.provision(prime, dry_run=True)
    assert not report.applied
    fields = [s.name for s in report.steps if s.kind == "field"]
    assert "Opportunity.Operational_Date__c" in fields and len(fields) == 9
    assert all(s.action == "create" for s in report.steps if s.kind == "field")
    grants = [s for s in report.steps if s.kind == "permission" and "." in s.name]
    # servefirst's 9, and edit on the waiver for the managers the playbook names
    assert len(grants) == 10 and all(s.action == "create" for s in grants)
    assert [s.action for s in report.steps if s.kind == "stage"] == ["none"] * 6
    assert [(s.name, s.action) for s in report.steps if s.kind == "path"] == [
        ("ServeFirst_Path", "create")
    ]
    assert writes(fresh) == {}
    assert connector.api_calls.write == 0
    assert connector.provision(prime, dry_run=True).changes == report.changes
    connector.close()


def test_fresh_org_provisions_then_a_second_run_is_a_no_op(
    fresh: RunningSandbox,
    connector_for: ConnectorFor,
    prime: Playbook,
    rep: Callable[[RunningSandbox], Any],
) -> None:
    connector = connector_for(fresh)
    first = connector.provision(prime, dry_run=False)
    # 9 fields, 9 field permissions, the waiver approvers' permission set and grant, the path
    assert first.applied and len(first.changes) == 21
    sf = rep(fresh)
    sf.Opportunity.create(
        {
            "Name": "Probe",
            "StageName": "Discover",
            "CloseDate": "2027-01-01",
            "Playbook_Health__c": "On track",
        }
    )
    assert [e.current.health for e in mapped(connector.pull(PullWindow()))] == [Health.ON_TRACK]
    describe = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    health = describe["Playbook_Health__c"]
    assert health["label"] == "Playbook Health" and health["restrictedPicklist"]
    assert [v["value"] for v in health["picklistValues"]] == ["On track", "At risk", "Off track"]
    assert "sponsor" in (describe["Operational_Date__c"]["inlineHelpText"] or "").lower()
    before = writes(fresh)
    second = connector.provision(prime, dry_run=False)
    assert second.changes == ()
    assert writes(fresh) == before
    sf.session.close()
    connector.close()


def test_drifted_label_and_help_are_put_back(provisioned: Provisioned, prime: Playbook) -> None:
    connector, sf = provisioned()
    found = sf.toolingexecute(
        "query/",
        params={"q": "SELECT Id FROM CustomField WHERE DeveloperName = 'Playbook_Findings'"},
    )
    field_id = found["records"][0]["Id"]
    current = sf.toolingexecute(f"sobjects/CustomField/{field_id}")
    metadata = {**current["Metadata"], "label": "Notes", "inlineHelpText": "whatever"}
    sf.toolingexecute(
        f"sobjects/CustomField/{field_id}", method="PATCH", data={"Metadata": metadata}
    )
    report = connector.provision(prime, dry_run=False)
    assert [(s.name, s.action) for s in report.changes] == [
        ("Opportunity.Playbook_Findings__c", "update")
    ]
    assert "label" in report.changes[0].detail and "inlineHelpText" in report.changes[0].detail
    assert (
        sf.toolingexecute(f"sobjects/CustomField/{field_id}")["Metadata"]["label"]
        == "Playbook Findings"
    )
    assert connector.provision(prime, dry_run=False).changes == ()


def test_revoked_field_permission_is_granted_again(
    provisioned: Provisioned, prime: Playbook
) -> None:
    connector, sf = provisioned()
    row = sf.query(
        "SELECT Id FROM FieldPermissions WHERE Field = 'Opportunity.Playbook_Health__c'"
    )["records"][0]
    sf.FieldPermissions.update(row["Id"], {"PermissionsEdit": False})
    report = connector.provision(prime, dry_run=False)
    assert [(s.name, s.action) for s in report.changes] == [
        ("Opportunity.Playbook_Health__c", "update")
    ]


def test_validation_rule_blocks_moving_past_diagnose_without_an_operational_date(
    provisioned: Provisioned, prime: Playbook
) -> None:
    connector, sf = provisioned(validation_rule=True)
    # the date is agreed with the sponsor in Diagnose, so entering Diagnose without it is fine
    stuck = sf.Opportunity.create(
        {"Name": "Stuck", "StageName": "Discover", "CloseDate": "2027-01-01"}
    )["id"]
    sf.Opportunity.update(stuck, {"StageName": "Diagnose"})
    for later in ("Design", "Closed Won"):
        with pytest.raises(SalesforceMalformedRequest) as info:
            sf.Opportunity.update(stuck, {"StageName": later})
        content: Any = info.value.content  # the parsed error list, typed ``bytes`` upstream
        error = content[0]
        assert error["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        assert "moving past Diagnose" in error["message"] and "sponsor" in error["message"]
        assert error["fields"] == ["Operational_Date__c"]
    sf.Opportunity.update(stuck, {"StageName": "Closed Lost"})  # losing needs no date
    moving = sf.Opportunity.create(
        {"Name": "Moving", "StageName": "Diagnose", "CloseDate": "2027-01-01"}
    )["id"]
    sf.Opportunity.update(moving, {"StageName": "Design", "Operational_Date__c": "2027-03-01"})
    with pytest.raises(SalesforceMalformedRequest):
        sf.Opportunity.create({"Name": "New", "StageName": "Design", "CloseDate": "2027-01-01"})
    # a deal already past Diagnose without a date, from before the rule existed
    old = sf.Opportunity.create(
        {
            "Name": "Old",
            "StageName": "Deliver",
            "CloseDate": "2027-01-01",
            "Operational_Date__c": "2027-03-01",
        }
    )["id"]
    sf.Opportunity.update(old, {"Operational_Date__c": None})
    # servefirst's own writes on such a deal are not blocked: the rule fires on stage moves only
    plan = Plan(updates=(RecordUpdate(old, (FieldChange(old, "health", None, Health.OFF_TRACK),)),))
    assert connector.apply(plan).errors == []
    report = connector.provision(prime, dry_run=False)
    assert report.changes == ()
    assert [s.action for s in report.steps if s.kind == "validation_rule"] == ["none"]


def test_validation_rule_from_an_older_release_is_updated(
    provisioned: Provisioned, prime: Playbook
) -> None:
    connector, sf = provisioned(validation_rule=True)
    found = sf.toolingexecute(
        "query/",
        params={
            "q": "SELECT Id FROM ValidationRule WHERE ValidationName = "
            "'ServeFirst_Operational_Date_Required'"
        },
    )
    rule_id = found["records"][0]["Id"]
    current = sf.toolingexecute(f"sobjects/ValidationRule/{rule_id}")["Metadata"]
    older = {  # the first release blocked moving past Discover
        **current,
        "errorConditionFormula": current["errorConditionFormula"].replace(
            'OR(ISPICKVAL(StageName, "Design")',
            'OR(ISPICKVAL(StageName, "Diagnose"), ISPICKVAL(StageName, "Design")',
        ),
        "errorMessage": current["errorMessage"].replace("Diagnose", "Discover"),
    }
    sf.toolingexecute(
        f"sobjects/ValidationRule/{rule_id}", method="PATCH", data={"Metadata": older}
    )
    report = connector.provision(prime, dry_run=False)
    assert [(s.kind, s.action) for s in report.changes] == [("validation_rule", "update")]
    assert "errorConditionFormula" in report.changes[0].detail
    stuck = sf.Opportunity.create(
        {"Name": "Stuck", "StageName": "Discover", "CloseDate": "2027-01-01"}
    )["id"]
    sf.Opportunity.update(stuck, {"StageName": "Diagnose"})
    assert connector.provision(prime, dry_run=False).changes == ()


def test_standard_stages_are_mapped_or_explained(
    new_sandbox: Callable[..., RunningSandbox], connector_for: ConnectorFor, prime: Playbook
) -> None:
    sandbox = new_sandbox(stages="standard")
    try:
        connector = connector_for(sandbox, stage_map={})  # an admin who has mapped nothing yet
        stages = {
            s.name: s for s in connector.provision(prime, dry_run=True).steps if s.kind == "stage"
        }
        assert stages["won"].action == "none" and stages["lost"].action == "none"
        assert stages["discover"].action == "manual"
        assert "Setup > Object Manager > Opportunity" in stages["discover"].detail
        assert "stage_map.discover" in stages["discover"].detail
        assert "'Prospecting'" in stages["discover"].detail
        connector.close()
        mapped = connector_for(
            sandbox,
            stage_map={
                "discover": "Prospecting",
                "diagnose": "Needs Analysis",
                "design": "Proposal/Price Quote",
                "deliver": "Negotiation/Review",
            },
        )
        steps = mapped.provision(prime, dry_run=True).steps
        assert [s.action for s in steps if s.kind == "stage"] == ["none"] * 6
        mapped.close()
    finally:
        sandbox.stop()


def test_refused_provisioning_step_is_a_config_error_in_salesforce_words(
    fresh: RunningSandbox, connector_for: ConnectorFor, prime: Playbook
) -> None:
    connector = connector_for(fresh)
    fresh.admin.inject("status", count=1, status=404, path_prefix="/services/data/v59.0/tooling")
    with pytest.raises(ConfigError, match="provisioning step") as info:
        connector.provision(prime, dry_run=False)
    assert "NOT_FOUND" in str(info.value)
    assert connector.provision(prime, dry_run=False).applied  # running again resumes
    connector.close()
