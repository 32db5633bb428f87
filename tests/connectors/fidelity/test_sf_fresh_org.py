"""A fresh Salesforce org: the standard stages, and the default path maps the playbook onto them."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.salesforce.sandbox import RunningSandbox, start_sandbox
from servefirst.sync.cli.app import app
from servefirst.sync.demo.story import show_standard_org
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import provision_connection, sync_connection

STANDARD = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]


def test_a_fresh_org_ships_the_standard_stages(sf: Any) -> None:
    rows = sf.query(
        "SELECT MasterLabel, IsClosed, IsWon, DefaultProbability FROM OpportunityStage "
        "ORDER BY SortOrder"
    )["records"]
    assert [r["MasterLabel"] for r in rows] == STANDARD
    assert [(r["IsClosed"], r["IsWon"]) for r in rows[-2:]] == [(True, True), (True, False)]
    assert [r["DefaultProbability"] for r in rows][:2] == [10.0, 10.0]
    picklist = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}["StageName"]
    assert [v["value"] for v in picklist["picklistValues"]] == STANDARD


def test_its_config_maps_the_playbook_onto_existing_stages(fresh_org: RunningSandbox) -> None:
    raw = tomllib.loads(fresh_org.config_path.read_text(encoding="utf-8"))
    stage_map = raw["connections"]["salesforce"]["stage_map"]
    assert set(stage_map) == {"discover", "diagnose", "design", "deliver"}
    assert set(stage_map.values()) <= set(STANDARD)


def test_the_default_path_provisions_no_stage_and_syncs_mapped_engagements(
    tmp_path: Path,
) -> None:
    sandbox = start_sandbox(workdir=tmp_path, seed="none")
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        _, plan = provision_connection(settings, playbook, None, dry_run=True)
        stages = [s for s in plan.steps if s.kind == "stage"]
        assert stages and {s.action for s in stages} == {"none"}  # mapped, not added
        provision_connection(settings, playbook, None, dry_run=False)
        sandbox.seed("demo", 0)
        report = sync_connection(settings, playbook, None, SyncOptions(as_of=dt.date.today()))
        assert report.totals.engagements_read == 40
        mapped = {e.stage for e in report.engagements}
        assert {"discover", "diagnose", "design", "deliver"} <= mapped
    finally:
        sandbox.stop()


def test_stages_are_a_salesforce_option_only() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["sandbox", "serve", "--crm", "hubspot", "--stages", "standard"],
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert "Salesforce sandbox only" in result.output


def test_the_demo_shows_a_standard_org_mapped(tmp_path: Path) -> None:
    console = Console(record=True, width=120)
    run = show_standard_org(console, tmp_path, dt.date.today())
    text = console.export_text()
    assert "Diagnose is the org's Needs Analysis stage." in text
    assert "Provisioning added 0 stage(s)" in text
    assert run.totals.engagements_read == 40 and run.totals.tasks_opened > 0
