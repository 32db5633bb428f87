"""A demo-seeded org looks provisioned: provisioning plans no field, grant or stage change.

The seeder builds its fields from the connector's own specs, so a wording change in one place
can no longer make ``servefirst provision`` report drift on a fresh demo org.
"""

from __future__ import annotations

from collections.abc import Callable

from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook


def test_demo_seed_then_provision_dry_run_plans_no_field_change(
    new_sandbox: Callable[..., RunningSandbox],
    connector_for: Callable[..., SalesforceConnector],
    prime: Playbook,
) -> None:
    sandbox = new_sandbox(seed="demo")
    try:
        connector = connector_for(sandbox)
        report = connector.provision(prime, dry_run=True)
        connector.close()
    finally:
        sandbox.stop()
    assert {s.kind for s in report.steps} >= {"field", "permission", "stage"}
    # The Sales Path is an admin's choice the seeder leaves to provisioning: the only change.
    assert [(s.kind, s.action) for s in report.changes] == [("path", "create")]
