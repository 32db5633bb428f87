"""The playbook commands through Typer's runner: what a RevOps user types and reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servefirst.sync.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).parents[2] / "config/servefirst/config/samples/engagements.json"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("servefirst ")


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_init_writes_files_then_refuses_to_overwrite(tmp_path: Path, crm: str) -> None:
    result = runner.invoke(app, ["init", "--crm", crm, str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = tmp_path / "servefirst.toml"
    assert f'crm = "{crm}"' in config.read_text()
    assert (tmp_path / "playbook.yaml").read_text().startswith("# The default serve-first playbook")
    config.write_text(config.read_text() + "\n# my edit\n")
    again = runner.invoke(app, ["init", "--crm", crm, str(tmp_path)])
    assert again.exit_code == 2
    assert "never overwrites" in again.output
    assert config.read_text().endswith("# my edit\n")


def test_validate_ok_after_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(app, ["init", "--crm", "hubspot", str(tmp_path)])
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-test")
    result = runner.invoke(app, ["validate", "-c", str(tmp_path / "servefirst.toml")])
    assert result.exit_code == 0, result.output
    assert "playbook 'prime'" in result.output


def test_validate_reports_missing_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(app, ["init", "--crm", "hubspot", str(tmp_path)])
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    result = runner.invoke(app, ["validate", "-c", str(tmp_path / "servefirst.toml")])
    assert result.exit_code == 2
    assert "HUBSPOT_TOKEN is not set" in result.output


def test_validate_misspelt_playbook_key_exits_2_with_file_line_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(app, ["init", "--crm", "hubspot", str(tmp_path)])
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-test")
    playbook = tmp_path / "playbook.yaml"
    text = playbook.read_text().replace("    max_slips: 2", "    max_slipz: 2")
    playbook.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "max_slipz" in ln)
    result = runner.invoke(app, ["validate", "-c", str(tmp_path / "servefirst.toml")])
    assert result.exit_code == 2
    assert (
        f"{playbook}:{line}: unknown key 'rules.operational_date_slipped.max_slipz'"
        in result.output
    )


def test_validate_without_config_says_how_to_start(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "-c", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert "servefirst init" in result.output


def test_playbook_show_lists_stages_and_rules() -> None:
    result = runner.invoke(app, ["playbook", "show", "-c", "/nonexistent/servefirst.toml"])
    assert result.exit_code == 2  # an explicit config that is missing is an error
    result = runner.invoke(
        app, ["playbook", "show"], env={"SERVEFIRST_CONFIG": "/nonexistent.toml"}
    )
    assert result.exit_code == 0, result.output
    for word in ("Discover", "Diagnose", "Design", "Deliver", "operational_date_missing"):
        assert word in result.output


def test_playbook_check_json_on_the_sample() -> None:
    result = runner.invoke(
        app, ["playbook", "check", str(SAMPLE), "--as-of", "2026-11-26", "--json"]
    )
    assert result.exit_code == 0, result.output
    verdicts = {e["id"]: e for e in json.loads(result.output)}
    assert verdicts["ENG-1"]["health"] == "on_track"
    assert {f["rule"] for f in verdicts["ENG-2"]["findings"]} == {
        "sponsor_missing",
        "operational_date_missing",
    }
    assert verdicts["ENG-3"]["health"] == "off_track"
    assert {f["rule"] for f in verdicts["ENG-6"]["findings"]} == {"stage_unmapped"}


def test_playbook_check_tries_a_rule_change(tmp_path: Path) -> None:
    """RevOps tighten a rule in their own playbook file and see its effect before syncing."""
    runner.invoke(app, ["init", str(tmp_path)])
    playbook = tmp_path / "playbook.yaml"
    playbook.write_text(
        playbook.read_text().replace("    confirm_within_days: 14", "    confirm_within_days: 60")
    )
    args = [
        "playbook",
        "check",
        str(SAMPLE),
        "--as-of",
        "2026-11-26",
        "--json",
        "-p",
        str(playbook),
    ]
    verdicts = {e["id"]: e for e in json.loads(runner.invoke(app, args).output)}
    assert verdicts["ENG-4"]["findings"] == []


def test_playbook_check_reports_and_skips_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "engagements.json"
    path.write_text(
        json.dumps(
            [
                {"id": "A", "name": "Good", "stage": "discover"},
                {"id": "B", "name": "Bad date", "po_date": "31/12/2026"},
                "not an object",
            ]
        )
    )
    result = runner.invoke(app, ["playbook", "check", str(path), "--as-of", "2026-11-26"])
    assert result.exit_code == 1
    assert "record 2 (B): po_date: Input should be a valid date" in result.output
    assert "po_date: po_date" not in result.output
    assert "record 3: expected a JSON object" in result.output
    assert "Good (A, discover): on_track" in result.output


def test_playbook_check_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "engagements.json"
    path.write_text('[\n  {"id": "A",\n  "name": }\n]')
    result = runner.invoke(app, ["playbook", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:3: invalid JSON" in result.output


def test_playbook_check_bad_date_option() -> None:
    result = runner.invoke(app, ["playbook", "check", str(SAMPLE), "--as-of", "26/11/2026"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


def test_playbook_check_refuses_a_stage_the_playbook_does_not_have(tmp_path: Path) -> None:
    path = tmp_path / "engagements.json"
    path.write_text(
        json.dumps(
            [
                {"id": "A", "name": "Good", "stage": "discover"},
                {"id": "B", "name": "Typo", "stage": "qualify", "po_date": "2026-13-01"},
                {"id": "C", "name": "Typo too", "stage": "desing"},
            ]
        )
    )
    result = runner.invoke(app, ["playbook", "check", str(path), "--as-of", "2026-11-26"])
    assert result.exit_code == 1
    # each bad field once, with its path; the record is skipped
    assert result.output.count("record 2 (B)") == 1
    assert "record 2 (B): po_date: Input should be a valid date" in result.output
    assert "record 3 (C): stage: 'desing' is not a stage of playbook 'prime'" in result.output
    assert "Good (A, discover): on_track" in result.output
    assert "Typo too" not in result.output.split("record 3")[0]


def _initialised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runner.invoke(app, ["init", "--crm", "hubspot", str(tmp_path)])
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-test")
    return tmp_path / "servefirst.toml"


def test_validate_refuses_a_stage_map_key_that_is_no_playbook_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _initialised(tmp_path, monkeypatch)
    text = config.read_text().replace(
        "# stage_map = {", 'stage_map = { qualify = "Qualified" }\n# stage_map = {'
    )
    config.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith("stage_map"))
    result = runner.invoke(app, ["validate", "-c", str(config)])
    assert result.exit_code == 2
    assert (
        f"{config}:{line}: connections.hubspot.stage_map: 'qualify' is not a stage of "
        "playbook 'prime'"
    ) in result.output
    # and every command that would reach the CRM stops there too, before any run is recorded
    sync = runner.invoke(app, ["sync", "-c", str(config)])
    assert sync.exit_code == 2
    assert "'qualify' is not a stage" in sync.output
    assert not (tmp_path / ".servefirst").exists()


def test_validate_warns_about_placeholders_that_change_daily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _initialised(tmp_path, monkeypatch)
    playbook = tmp_path / "playbook.yaml"
    text = playbook.read_text().replace(
        "has passed and the engagement is still open.",
        "passed {days_overdue} days ago and the engagement is still open.",
    )
    playbook.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "{days_overdue} days" in ln)
    result = runner.invoke(app, ["validate", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        f"{playbook}:{line}: warning: rules.operational_date_past.message uses "
        "{days_overdue}, which changes every day"
    ) in result.output
