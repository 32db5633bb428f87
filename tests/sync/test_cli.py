"""``servefirst provision / sync / runs`` through Typer's runner, on the in-memory CRM."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from servefirst.config.loader import load_settings
from servefirst.playbook.errors import AuthError, ConfigError
from servefirst.playbook.model import Engagement
from servefirst.sync.cli import app
from servefirst.sync.cli.sync_cmds import _progress
from servefirst.sync.connectors import ConnectionSettings
from servefirst.sync.lease import held_lease
from servefirst.sync.state import RunTotals, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

runner = CliRunner()
T0 = dt.date(2026, 3, 2)
Make = Callable[..., Engagement]
COUNTS = {
    "engagements_read",
    "records_updated",
    "fields_updated",
    "tasks_opened",
    "tasks_closed",
    "tasks_updated",
    "tasks_reopened",
    "conflicts_skipped",
    "record_errors",
}


@pytest.fixture
def config(
    tmp_path: Path, fake: FakeConnector, make: Make, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A servefirst.toml whose one connection opens the in-memory CRM."""
    path = tmp_path / "servefirst.toml"
    path.write_text(
        '[connections.acme]\ncrm = "hubspot"\ntoken = { env = "ACME_HS_TOKEN" }\n',
        encoding="utf-8",
    )
    fake.add(make("E1"))
    fake.add(make("E2", sponsor=False))

    def connect(name: str, conn: ConnectionSettings, playbook: object, base_dir: Path) -> object:
        assert (name, conn.crm, base_dir) == ("acme", "hubspot", tmp_path)
        return fake

    monkeypatch.setattr("servefirst.sync.service.open_connector", connect)
    # The in-memory CRM's engagements are dated around T0: that is "today" for these runs.
    monkeypatch.setattr("servefirst.sync.clock.today_in", lambda _zone: T0)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_sync_json_is_one_document_with_the_issue_keys(config: Path) -> None:
    code, out, _ = invoke("sync", "-c", str(config), "--as-of", "2026-03-02", "--json")
    assert code == 0, out
    doc = json.loads(out)  # exactly one document: anything else on stdout would break this
    assert set(doc) == {
        "run_id", "connection", "crm", "dry_run", "as_of", "status", "counts", "health",
        "api_calls", "engagements", "errors", "retry_set",
    }  # fmt: skip
    assert (doc["connection"], doc["crm"], doc["dry_run"], doc["as_of"], doc["status"]) == (
        "acme", "fake", False, "2026-03-02", "ok",
    )  # fmt: skip
    assert set(doc["counts"]) == COUNTS
    assert doc["counts"]["engagements_read"] == 2
    assert doc["counts"]["tasks_opened"] == 1
    assert doc["health"] == {"on_track": 1, "at_risk": 0, "off_track": 1}
    assert set(doc["api_calls"]) == {"total", "read", "write"}
    assert doc["api_calls"]["total"] == doc["api_calls"]["read"] + doc["api_calls"]["write"]
    e2 = next(e for e in doc["engagements"] if e["id"] == "E2")
    assert set(e2) == {"id", "name", "stage", "health", "findings", "waived"}  # waived: issue 10
    assert e2["health"] == "off_track"
    assert e2["stage"] == "design"
    assert [set(f) for f in e2["findings"]] == [{"rule", "severity", "message"}]
    assert e2["findings"][0]["rule"] == "sponsor_missing"
    assert doc["errors"] == []

    code, out, _ = invoke("sync", "-c", str(config), "--as-of", "2026-03-02", "--json")
    again = json.loads(out)
    assert code == 0
    assert again["api_calls"]["write"] == 0
    assert again["counts"]["fields_updated"] == 0


def test_sync_summary_dry_run_and_diff_file(config: Path, fake: FakeConnector) -> None:
    diff = config.parent / "plan.jsonl"
    code, out, _ = invoke(
        "sync", "-c", str(config), "--as-of", "2026-03-02", "--dry-run", "--diff-file", str(diff)
    )
    assert code == 0
    assert "Engagements read" in out
    assert "Dry run" in out
    assert "sponsor_missing" in out
    assert fake.plans == []
    lines = [json.loads(line) for line in diff.read_text(encoding="utf-8").splitlines()]
    assert {"task": "open", "record_id": "E2", "rule": "sponsor_missing"}.items() <= next(
        line for line in lines if "task" in line
    ).items()


def test_partial_run_exits_1_with_the_crm_message(config: Path, fake: FakeConnector) -> None:
    fake.refuse["E2"] = "INVALID_FIELD: no such value"
    code, out, _ = invoke("sync", "-c", str(config), "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["status"] == "partial"
    assert {"record_id": "E2", "message": "INVALID_FIELD: no such value"} in doc["errors"]


def test_auth_failure_exits_3_and_is_recorded(config: Path, fake: FakeConnector) -> None:
    fake.pull_error = AuthError("the token was refused", connection="acme")
    code, out, err = invoke("sync", "-c", str(config))
    assert code == 3
    assert "the token was refused" in err
    code, out, _ = invoke("runs", "list", "-c", str(config), "--json")
    (row,) = json.loads(out)
    assert row["status"] == "failed"
    assert "the token was refused" in row["error"]


def test_config_problem_opening_the_connection_exits_2(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> object:
        raise ConfigError("connection 'acme': environment variable ACME_HS_TOKEN is not set")

    monkeypatch.setattr("servefirst.sync.service.open_connector", refuse)
    code, out, _ = invoke("sync", "-c", str(config), "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["status"] == "failed"
    assert "ACME_HS_TOKEN" in doc["errors"][0]["message"]


def test_usage_errors_exit_2(config: Path, tmp_path: Path) -> None:
    assert invoke("sync", "-c", str(config), "--as-of", "March")[0] == 2
    assert invoke("sync", "-c", str(tmp_path / "missing.toml"))[0] == 2
    assert invoke("sync", "-c", str(config), "--connection", "nope")[0] == 2
    assert invoke("runs", "show", "999", "-c", str(config))[0] == 2
    assert (
        invoke("sync", "-c", str(config), "--diff-file", str(tmp_path / "no" / "p.jsonl"))[0] == 2
    )


def test_runs_list_and_show(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(config.parent)  # the default config is ./servefirst.toml
    assert invoke("sync", "--as-of", "2026-03-02")[0] == 0
    code, out, _ = invoke("runs", "list")
    assert code == 0
    assert "acme" in out
    code, out, _ = invoke("runs", "list", "--json")
    (row,) = json.loads(out)
    code, out, _ = invoke("runs", "show", str(row["run_id"]), "--json")
    shown = json.loads(out)
    assert shown["status"] == "ok"
    assert shown["counts"]["engagements_read"] == 2
    assert {"record_id": "E2", "kind": "task_open", "name": "sponsor_missing"}.items() <= next(
        c for c in shown["changes"] if c["kind"] == "task_open"
    ).items()
    code, out, _ = invoke("runs", "show", str(row["run_id"]))
    assert code == 0
    assert "sponsor_missing" in out
    assert "Needs action now:" in out


def test_provision_dry_run(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVEFIRST_CONFIG", str(config))
    code, out, _ = invoke("provision", "--dry-run")
    assert code == 0
    assert "Provisioning acme (dry run)" in out


def test_the_progress_line_follows_the_run_totals() -> None:
    with _progress(False) as off:
        assert off is None
    with _progress(True) as on:
        assert on is not None
        on(RunTotals(engagements_read=500, fields_updated=12, tasks_opened=3))


def test_another_day_writes_nothing_without_dry_run(config: Path, fake: FakeConnector) -> None:
    code, _, err = invoke("sync", "-c", str(config), "--as-of", "2026-04-01")
    assert code == 2
    assert "--dry-run" in err
    assert "2026-03-02" in err  # what today is for the connection
    assert fake.plans == [] and fake.windows == []
    assert json.loads(invoke("runs", "list", "-c", str(config), "--json")[1]) == []

    code, _, _ = invoke("sync", "-c", str(config), "--as-of", "2026-04-01", "--dry-run")
    assert code == 0
    assert fake.plans == []


def test_refused_records_are_listed_until_they_sync(config: Path, fake: FakeConnector) -> None:
    fake.refuse["E2"] = "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close the loop first"
    code, out, _ = invoke("sync", "-c", str(config), "--json")
    assert code == 1
    doc = json.loads(out)
    (entry,) = doc["retry_set"]
    assert (entry["record_id"], entry["attempts"], entry["stuck"]) == ("E2", 1, False)
    assert entry["message"] == fake.refuse["E2"]

    code, out, _ = invoke("runs", "show", str(doc["run_id"]), "-c", str(config), "--json")
    assert [e["record_id"] for e in json.loads(out)["retry_set"]] == ["E2"]
    code, out, _ = invoke("runs", "show", str(doc["run_id"]), "-c", str(config))
    assert "Records to retry" in out
    assert "Close the loop first" in out

    del fake.refuse["E2"]
    code, out, _ = invoke("sync", "-c", str(config), "--json", "--full")
    assert code == 0
    assert json.loads(out)["retry_set"] == []


def test_a_stage_map_edit_forces_a_full_scan(config: Path) -> None:
    def scope() -> bool:
        code, out, _ = invoke("sync", "-c", str(config), "--json")
        assert code == 0
        run_id = json.loads(out)["run_id"]
        return bool(
            json.loads(invoke("runs", "show", str(run_id), "-c", str(config), "--json")[1])[
                "full_scan"
            ]
        )

    assert scope()  # the first run
    assert not scope()
    with config.open("a", encoding="utf-8") as file:
        file.write('stage_map = { design = "Proposal" }\n')
    assert scope()
    assert not scope()


def test_a_second_run_exits_3_naming_the_holder(config: Path) -> None:
    settings = load_settings(config)
    store = StateStore.open(settings.resolve_state_url())
    try:
        with held_lease(store, "acme"):
            code, out, err = invoke("sync", "-c", str(config), "--json")
    finally:
        store.close()
    assert code == 3
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert f"process {os.getpid()} on {socket.gethostname()} since " in lines[0]
    assert "--wait" in lines[0]
    assert invoke("sync", "-c", str(config), "--json")[0] == 0  # released


def test_history_names_engagements_in_show_json_and_the_diff_file(
    config: Path, fake: FakeConnector
) -> None:
    fake.edit("E2", name="Kestrel line 4 retrofit")
    diff = config.parent / "plan.jsonl"
    code, _, _ = invoke(
        "sync", "-c", str(config), "--as-of", "2026-03-02", "--diff-file", str(diff)
    )
    assert code == 0
    lines = [json.loads(line) for line in diff.read_text(encoding="utf-8").splitlines()]
    assert {(line["record_id"], line["engagement"]) for line in lines} == {
        ("E1", "Engagement E1"),
        ("E2", "Kestrel line 4 retrofit"),
    }
    code, out, _ = invoke("runs", "show", "1", "-c", str(config), "--json")
    changes = json.loads(out)["changes"]
    assert {(c["record_id"], c["engagement"]) for c in changes} == {
        ("E1", "Engagement E1"),
        ("E2", "Kestrel line 4 retrofit"),
    }
    code, out, _ = invoke("runs", "show", "1", "-c", str(config))
    assert "Kestrel" in out


def test_runs_show_filters_by_engagement_name_or_id(config: Path) -> None:
    assert invoke("sync", "-c", str(config), "--as-of", "2026-03-02")[0] == 0
    for needle in ("E2", "engagement e2"):
        code, out, _ = invoke("runs", "show", "1", "-c", str(config), "--engagement", needle)
        assert code == 0
        assert "Engagement E2" in out
        assert "Engagement E1" not in out
        shown = json.loads(
            invoke("runs", "show", "1", "-c", str(config), "--engagement", needle, "--json")[1]
        )
        assert shown["changes"]
        assert {c["record_id"] for c in shown["changes"]} == {"E2"}
    code, _, err = invoke("runs", "show", "1", "-c", str(config), "--engagement", "Nobody")
    assert code == 2
    assert "Nobody" in err


def test_a_failed_run_shows_its_error_not_empty_health(config: Path, fake: FakeConnector) -> None:
    fake.pull_error = AuthError("the token was refused", connection="acme")
    assert invoke("sync", "-c", str(config))[0] == 3
    code, out, _ = invoke("runs", "list", "-c", str(config))
    assert code == 0
    assert "the token was refused" in out.replace("\n", "")
    code, out, _ = invoke("runs", "show", "1", "-c", str(config))
    assert "the token was refused" in out.replace("\n", "")
    assert "on track" not in out
