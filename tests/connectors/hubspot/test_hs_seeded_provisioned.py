"""A demo-seeded portal looks provisioned: provisioning plans no change at all.

The seeder builds the property group, properties, pipeline and Sponsor label from the
connector's own spec, so ``servefirst provision`` on a fresh demo portal reports nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from servefirst.playbook.definition import Playbook

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal


def test_demo_seed_then_provision_dry_run_plans_no_change(
    portal_factory: Callable[..., Portal], prime: Playbook
) -> None:
    portal = portal_factory(seed="demo")
    try:
        report = portal.connector(prime).provision(prime, dry_run=True)
    finally:
        portal.stop()
    kinds = {s.kind for s in report.steps}
    assert kinds >= {"property_group", "property", "label", "pipeline", "stage"}
    assert [(s.kind, s.name, s.detail) for s in report.changes] == []
