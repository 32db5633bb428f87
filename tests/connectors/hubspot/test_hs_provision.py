"""Provisioning a portal through the real client: plan, dry run, apply, apply again, drift."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate, PropertyUpdate

from servefirst.connectors.hubspot.provision import Provisioner
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal

EXPECTED = {
    ("property_group", "deals.serve_first"),
    ("property_group", "tasks.serve_first"),
    ("property", "deals.operational_date"),
    ("property", "deals.success_criteria"),
    ("property", "deals.success_confirmed"),
    ("property", "deals.playbook_health"),
    ("property", "deals.playbook_findings"),
    ("property", "deals.operational_date_slips"),
    ("property", "tasks.servefirst_task_key"),
    ("label", "deals->contacts Sponsor"),
    ("pipeline", "Serve-first"),
}


def _writes(portal: Portal) -> int:
    return sum(n for k, n in portal.writes().items() if not k.startswith("GET"))


def test_fresh_portal_dry_run_then_apply_then_nothing_left(
    bare_portal: Portal, prime: Playbook
) -> None:
    connector = bare_portal.connector(prime)

    planned = connector.provision(prime, dry_run=True)
    assert not planned.applied
    assert {(s.kind, s.name) for s in planned.changes} >= EXPECTED
    assert {s.action for s in planned.changes} == {"create"}
    assert _writes(bare_portal) == 0  # a dry run only reads
    assert sum(bare_portal.writes().values()) == 6  # and reads little

    applied = connector.provision(prime, dry_run=False)
    assert applied.applied
    assert [(s.kind, s.name) for s in applied.changes] == [
        (s.kind, s.name) for s in planned.changes
    ]

    bare_portal.reset()
    again = bare_portal.connector(prime).provision(prime, dry_run=False)
    assert again.changes == ()
    assert _writes(bare_portal) == 0

    # What reps see: the pipeline with the playbook's stages, closed ones flagged.
    pipeline = next(
        p for p in bare_portal.rep.pipelines.get_all("deals").results if p.label == "Serve-first"
    )
    stages = [
        (s.label, s.metadata["isClosed"], float(s.metadata["probability"]))
        for s in sorted(pipeline.stages, key=lambda s: s.display_order)
    ]
    assert stages == [
        ("Discover", "false", 0.2),
        ("Diagnose", "false", 0.4),
        ("Design", "false", 0.6),
        ("Deliver", "false", 0.8),
        ("Closed Won", "true", 1.0),
        ("Closed Lost", "true", 0.0),
    ]
    health = bare_portal.rep.client_properties.get_by_name("deals", "playbook_health")
    assert [o.value for o in health.options] == ["on_track", "at_risk", "off_track"]
    assert health.group_name == "serve_first"
    assert "servefirst" in health.description


def test_drift_is_repaired_and_only_drift(bare_portal: Portal, prime: Playbook) -> None:
    connector = bare_portal.connector(prime)
    connector.provision(prime, dry_run=False)
    bare_portal.rep.client_properties.update(
        "deals", "playbook_findings", PropertyUpdate(label="Notes from the bot")
    )
    bare_portal.reset()

    report = connector.provision(prime, dry_run=False)
    assert [(s.kind, s.name, s.action, s.detail) for s in report.changes] == [
        ("property", "deals.playbook_findings", "update", "label")
    ]
    assert _writes(bare_portal) == 1
    assert connector.provision(prime, dry_run=False).changes == ()


def test_mapping_onto_an_existing_pipeline_is_reported_not_modified(
    bare_portal: Portal, prime: Playbook
) -> None:
    stage_map = {
        "discover": "Appointment Scheduled",
        "diagnose": "Qualified To Buy",
        "design": "Presentation Scheduled",
        "deliver": "Contract Sent",
        "won": "Closed Won",
        "lost": "Closed Lost",
    }
    connector = bare_portal.connector(prime, pipeline="Sales Pipeline", stage_map=stage_map)
    connector.provision(prime, dry_run=False)
    bare_portal.reset()

    report = connector.provision(prime, dry_run=False)
    stages = {s.name: (s.action, s.detail) for s in report.steps if s.kind == "stage"}
    assert stages["Sales Pipeline/Appointment Scheduled"][0] == "none"
    assert "discover mapped onto" in stages["Sales Pipeline/Appointment Scheduled"][1]
    assert _writes(bare_portal) == 0  # mapped stages are never modified
    assert connector.stage_mapping().key_by_stage["appointmentscheduled"] == "discover"


def test_a_stage_map_naming_a_missing_stage_is_refused_before_any_write(
    bare_portal: Portal, prime: Playbook
) -> None:
    stage_map = {"design": "Solutioning", "won": "Closed Won", "lost": "Closed Lost"}
    connector = bare_portal.connector(prime, pipeline="Sales Pipeline", stage_map=stage_map)
    bare_portal.reset()
    with pytest.raises(ConfigError, match=r"stage_map\.design = 'Solutioning'") as refused:
        connector.provision(prime, dry_run=False)
    assert "'Presentation Scheduled'" in str(refused.value)  # the stages it could use
    assert _writes(bare_portal) == 0
    with pytest.raises(ConfigError, match=r"stage_map\.design = 'Solutioning'"):
        connector.stage_mapping()  # what a sync asks first: the run stops before any write


def test_a_create_that_loses_a_race_re_reads_and_converges(
    portal_factory: Callable[..., Portal], prime: Playbook
) -> None:
    fresh = portal_factory(seed="none")
    try:
        connector = fresh.connector(prime)
        items = Provisioner(connector.client, connector.settings).plan(prime)
        # Meanwhile an admin creates the group and one property, with their own label.
        fresh.rep.groups.create("deals", PropertyGroupCreate(name="serve_first", label="Mine"))
        fresh.rep.client_properties.create(
            "deals",
            PropertyCreate(
                name="playbook_findings",
                label="Findings",
                type="string",
                field_type="textarea",
                group_name="serve_first",
            ),
        )
        for item in items:
            if item.write is not None:
                item.write()  # the two creates answer 409: re-read, then update
        fresh.reset()
        assert connector.provision(prime, dry_run=False).changes == ()
        findings = fresh.rep.client_properties.get_by_name("deals", "playbook_findings")
        assert findings.label == "Playbook findings"
    finally:
        fresh.stop()
