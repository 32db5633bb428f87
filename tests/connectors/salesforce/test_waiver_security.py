"""Only the managers the playbook names may edit the waiver field; servefirst only reads it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook

WAIVER = "Opportunity.Playbook_Waiver__c"


@pytest.fixture
def fresh(new_sandbox: Callable[..., RunningSandbox]) -> Iterator[RunningSandbox]:
    sandbox = new_sandbox()
    yield sandbox
    sandbox.stop()


def _grants(sf: Any) -> dict[str, tuple[bool, bool]]:
    rows = sf.query(
        format_soql(
            "SELECT Parent.Name, PermissionsRead, PermissionsEdit FROM FieldPermissions "
            "WHERE Field = {}",
            WAIVER,
        )
    )["records"]
    return {r["Parent"]["Name"]: (r["PermissionsRead"], r["PermissionsEdit"]) for r in rows}


def test_the_waiver_is_read_only_for_servefirst_and_editable_by_the_named_managers(
    fresh: RunningSandbox,
    connector_for: Callable[..., SalesforceConnector],
    prime: Playbook,
    rep: Callable[[RunningSandbox], Any],
) -> None:
    connector = connector_for(fresh)
    report = connector.provision(prime, dry_run=False)
    approvers = next(s for s in report.steps if s.name == f"{WAIVER} -> Sales_Manager")
    assert approvers.action == "create" and "assign the permission set Sales_Manager" in (
        approvers.detail
    )
    sf = rep(fresh)
    assert _grants(sf) == {
        "ServeFirst_Integration": (True, False),
        "Sales_Manager": (True, True),
    }
    deal = sf.Opportunity.create(
        {"Name": "Probe", "StageName": "Discover", "CloseDate": "2027-01-01"}
    )
    with pytest.raises(SalesforceError):  # the integration user reads the field, never writes it
        sf.Opportunity.update(deal["id"], {"Playbook_Waiver__c": "anything until 2027-01-01: no"})
    assert sf.Opportunity.get(deal["id"])["Playbook_Waiver__c"] is None

    # A permission set that also lets its users edit the waiver is flagged for an admin, and
    # an integration grant widened to edit is narrowed back to read only.
    other = sf.PermissionSet.create({"Name": "Everyone", "Label": "Everyone"})["id"]
    sf.FieldPermissions.create(
        {
            "ParentId": other,
            "SobjectType": "Opportunity",
            "Field": WAIVER,
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
    )
    again = connector.provision(prime, dry_run=False)
    flagged = [s for s in again.steps if s.action == "manual" and s.name == f"{WAIVER} -> Everyone"]
    assert len(flagged) == 1 and "only 'Sales Manager' waives" in flagged[0].detail
    assert again.changes == ()
    sf.session.close()
    connector.close()
