"""Sales Path provisioning through the Tooling API: created once, put back, or left to an admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from servefirst.connectors.base import ProvisionReport, ProvisionStep
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook

ConnectorFor = Callable[..., SalesforceConnector]
PATHS = "/services/data/v59.0/tooling/sobjects/PathAssistant"


@pytest.fixture
def fresh(new_sandbox: Callable[..., RunningSandbox]) -> Iterator[RunningSandbox]:
    sandbox = new_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sf(fresh: RunningSandbox, rep: Callable[[RunningSandbox], Any]) -> Iterator[Any]:
    client = rep(fresh)
    yield client
    client.session.close()


def path_step(report: ProvisionReport) -> ProvisionStep:
    (step,) = [s for s in report.steps if s.kind == "path"]
    return step


def paths(sf: Any) -> list[dict[str, Any]]:
    found = sf.toolingexecute(
        "query/", params={"q": "SELECT Id, DeveloperName, IsActive FROM PathAssistant"}
    )
    return list(found["records"])


def path_metadata(sf: Any, path_id: str) -> dict[str, Any]:
    metadata: dict[str, Any] = sf.toolingexecute(f"sobjects/PathAssistant/{path_id}")["Metadata"]
    return metadata


def path_writes(sandbox: RunningSandbox) -> int:
    counts: dict[str, int] = sandbox.admin.stats()["by_endpoint"]
    return sum(
        n
        for k, n in counts.items()
        if k.endswith("tooling/sobjects/PathAssistant") and not k.startswith("GET ")
    )


def test_path_is_created_from_the_playbook_then_left_alone(
    fresh: RunningSandbox, sf: Any, connector_for: ConnectorFor, prime: Playbook
) -> None:
    connector = connector_for(fresh)
    assert path_step(connector.provision(prime, dry_run=True)).action == "create"
    assert paths(sf) == []
    step = path_step(connector.provision(prime, dry_run=False))
    assert (step.name, step.action) == ("ServeFirst_Path", "create")
    assert "Discover, Diagnose, Design, Deliver, Closed Won" in step.detail
    (row,) = paths(sf)
    assert (row["DeveloperName"], row["IsActive"]) == ("ServeFirst_Path", True)
    metadata = path_metadata(sf, row["Id"])
    assert (metadata["entityName"], metadata["fieldName"], metadata["recordTypeName"]) == (
        "Opportunity",
        "StageName",
        "__MASTER__",
    )
    steps = {s["picklistValueName"]: s for s in metadata["pathAssistantSteps"]}
    assert steps["Diagnose"]["fieldNames"] == ["Operational_Date__c"]
    assert steps["Closed Won"]["fieldNames"][-1] == "Success_Confirmed__c"
    assert "sponsor" in steps["Diagnose"]["info"] and "<li>" in steps["Diagnose"]["info"]
    writes = path_writes(fresh)
    again = connector.provision(prime, dry_run=False)
    assert (path_step(again).action, again.changes) == ("none", ())
    assert path_writes(fresh) == writes
    connector.close()


def test_drifted_path_is_put_back_keeping_an_admin_s_own_steps(
    fresh: RunningSandbox, sf: Any, connector_for: ConnectorFor, prime: Playbook
) -> None:
    connector = connector_for(fresh)
    connector.provision(prime, dry_run=False)
    path_id = paths(sf)[0]["Id"]
    metadata = path_metadata(sf, path_id)
    lost = {"picklistValueName": "Closed Lost", "fieldNames": ["NextStep"], "info": "Ask why."}
    edited = [
        {**s, "info": "<p>Whatever works.</p>"} if s["picklistValueName"] == "Design" else s
        for s in metadata["pathAssistantSteps"]
    ]
    drifted = {**metadata, "active": False, "pathAssistantSteps": [*edited, lost]}
    sf.toolingexecute(
        f"sobjects/PathAssistant/{path_id}", method="PATCH", data={"Metadata": drifted}
    )
    before = path_writes(fresh)
    planned = path_step(connector.provision(prime, dry_run=True))
    assert (planned.action, path_writes(fresh)) == ("update", before)
    report = connector.provision(prime, dry_run=False)
    assert [(s.kind, s.action) for s in report.changes] == [("path", "update")]
    assert report.changes[0].detail == "differs in active, step Design"
    metadata = path_metadata(sf, path_id)
    steps = {s["picklistValueName"]: s for s in metadata["pathAssistantSteps"]}
    assert metadata["active"] is True
    assert "Agree the expected outcomes" in steps["Design"]["info"]
    assert steps["Closed Lost"] == lost
    assert connector.provision(prime, dry_run=False).changes == ()
    connector.close()


@pytest.mark.parametrize("status", [400, 404])
def test_refused_path_is_a_manual_step_not_a_failure(
    fresh: RunningSandbox, connector_for: ConnectorFor, prime: Playbook, status: int
) -> None:
    connector = connector_for(fresh)
    fresh.admin.inject("status", count=1, status=status, path_prefix=PATHS)
    report = connector.provision(prime, dry_run=False)
    step = path_step(report)
    assert step.action == "manual"
    assert "Setup > Path Settings" in step.detail and "Enable" in step.detail
    assert f"HTTP {status}" in step.detail or "NOT_FOUND" in step.detail
    assert report.applied and len(report.changes) == 20  # fields and permissions still done
    assert path_step(connector.provision(prime, dry_run=False)).action == "create"
    connector.close()


def test_an_admin_s_own_active_path_is_left_alone(
    fresh: RunningSandbox, sf: Any, connector_for: ConnectorFor, prime: Playbook
) -> None:
    theirs = {
        "active": True,
        "entityName": "Opportunity",
        "fieldName": "StageName",
        "masterLabel": "Our sales path",
        "recordTypeName": "__MASTER__",
        "pathAssistantSteps": [{"picklistValueName": "Discover", "info": "Qualify."}],
    }
    sf.toolingexecute(
        "sobjects/PathAssistant/",
        method="POST",
        data={"FullName": "Our_Path", "Metadata": theirs},
    )
    connector = connector_for(fresh)
    before = path_writes(fresh)
    step = path_step(connector.provision(prime, dry_run=False))
    assert step.action == "manual"
    assert "'Our sales path' (Our_Path)" in step.detail and "Deactivate it" in step.detail
    assert path_writes(fresh) == before
    assert [r["DeveloperName"] for r in paths(sf)] == ["Our_Path"]
    connector.close()


def test_standard_stage_org_gets_a_path_for_the_stages_it_has(
    new_sandbox: Callable[..., RunningSandbox], connector_for: ConnectorFor, prime: Playbook
) -> None:
    sandbox = new_sandbox(stages="standard")
    try:
        connector = connector_for(sandbox, stage_map={})  # an admin who has mapped nothing yet
        report = connector.provision(prime, dry_run=False)
        step = path_step(report)
        assert step.action == "create"
        assert "for Closed Won;" in step.detail
        assert "skipped (no such active stage in the org): discover, diagnose" in step.detail
        stages = {s.name: s.action for s in report.steps if s.kind == "stage"}
        assert stages["discover"] == "manual"  # the stage step says what to add or map
        assert path_step(connector.provision(prime, dry_run=False)).action == "none"
        connector.close()
    finally:
        sandbox.stop()
