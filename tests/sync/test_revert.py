"""``runs revert`` on the in-memory CRM: what it refuses, what it leaves alone, how it records."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from servefirst.playbook.model import Engagement, PluginFields, TaskRef
from servefirst.sync.cli import app
from servefirst.sync.connectors import ConnectionSettings
from servefirst.sync.engine.revert import plan_revert
from servefirst.sync.state import ChangeRecord, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

Make = Callable[..., Engagement]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


@pytest.fixture
def config(
    tmp_path: Path, fake: FakeConnector, make: Make, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path / "servefirst.toml"
    path.write_text(
        '[connections.acme]\ncrm = "hubspot"\ntoken = { env = "ACME_HS_TOKEN" }\n',
        encoding="utf-8",
    )
    fake.add(make("E1"))
    fake.add(make("E2", sponsor=False))
    fake.add(make("E3", operational_date=None))

    def connect(name: str, conn: ConnectionSettings, playbook: object, base_dir: Path) -> object:
        return fake

    monkeypatch.setattr("servefirst.sync.service.open_connector", connect)
    # The engagements are dated around 2026-03-02: that is "today" for these syncs.
    monkeypatch.setattr("servefirst.sync.clock.today_in", lambda _zone: dt.date(2026, 3, 2))
    return path


def sync(config: Path) -> dict[str, object]:
    code, out = invoke("sync", "-c", str(config), "--as-of", "2026-03-02", "--json")
    assert code == 0, out
    doc: dict[str, object] = json.loads(out)
    return doc


def revert(config: Path, run_id: object, *extra: str) -> tuple[int, dict[str, object]]:
    code, out = invoke("runs", "revert", str(run_id), "-c", str(config), "--json", *extra)
    return code, json.loads(out) if out.startswith("{") else {}


def test_what_cannot_be_reverted_is_a_usage_error(config: Path) -> None:
    assert invoke("runs", "revert", "7", "-c", str(config))[0] == 2  # no such run
    code, _ = invoke("sync", "-c", str(config), "--as-of", "2026-03-02", "--dry-run")
    assert code == 0
    assert invoke("runs", "revert", "1", "-c", str(config))[0] == 2  # a dry run wrote nothing


def test_first_run_reverted_leaves_deleted_and_already_closed_alone(
    config: Path, fake: FakeConnector
) -> None:
    first = sync(config)
    task = next(t for t in fake.open_tasks("E2"))
    task.is_open = False  # the rep closed it by hand
    del fake.records["E3"]
    code, doc = revert(config, first["run_id"])
    assert code == 0, doc
    assert fake.records["E1"].current == PluginFields()  # back to empty, as before the run
    assert fake.records["E2"].current == PluginFields()
    left: list[dict[str, str]] = doc["left_alone"]  # type: ignore[assignment]
    reasons = {(i["record_id"], i["kind"]): i["reason"] for i in left}
    assert reasons[("E2", "task_open")] == "already closed"
    assert "no longer in the CRM" in reasons[("E3", "field")]
    assert [t.engagement_id for t in fake.open_tasks()] == ["E3"]  # its record is gone


def test_a_refused_write_makes_the_revert_partial(config: Path, fake: FakeConnector) -> None:
    first = sync(config)
    fake.refuse["E1"] = "FIELD_CUSTOM_VALIDATION_EXCEPTION: locked"
    code, doc = revert(config, first["run_id"])
    assert code == 1
    assert doc["status"] == "partial"
    assert fake.records["E1"].current.health is not None  # refused: still what the run wrote
    assert fake.records["E2"].current == PluginFields()
    _, out = invoke("runs", "list", "-c", str(config))
    assert f"revert of run {first['run_id']}" in out


def test_a_dry_run_revert_is_recorded_and_writes_nothing(config: Path, fake: FakeConnector) -> None:
    first = sync(config)
    writes = len(fake.plans)
    code, doc = revert(config, first["run_id"], "--dry-run")
    assert (code, doc["status"]) == (0, "dry_run")
    assert len(fake.plans) == writes
    code, out = invoke("runs", "show", str(doc["run_id"]), "-c", str(config), "--json")
    shown = json.loads(out)
    assert shown["dry_run"] and shown["reverts_run_id"] == first["run_id"]
    assert {c["engagement"] for c in shown["changes"]} >= {"Engagement E1", "Engagement E2"}


def _with_tasks(
    e: Engagement, *, open_: tuple[TaskRef, ...], done: tuple[TaskRef, ...]
) -> Engagement:
    return e.model_copy(update={"open_tasks": open_, "completed_tasks": done})


def test_rewordings_and_reopens_are_undone_by_their_opposites(make: Make) -> None:
    key = "servefirst:E1:sponsor_missing"
    run = [
        ChangeRecord(
            "E1",
            "task_update",
            "sponsor_missing",
            {"subject": "Old", "description": "d0"},
            {"subject": "New", "description": "d1"},
            task_key=key,
            ok=True,
        ),
        ChangeRecord(
            "E2",
            "task_reopen",
            "sponsor_missing",
            "T9",
            "Name the sponsor",
            task_key="servefirst:E2:sponsor_missing",
            ok=True,
        ),
        ChangeRecord(
            "E3",
            "task_close",
            "sponsor_missing",
            "T7",
            None,
            task_key="servefirst:E3:sponsor_missing",
            ok=True,
        ),
    ]
    current = {
        "E1": _with_tasks(
            make("E1"),
            open_=(
                TaskRef(
                    key=key, rule="sponsor_missing", task_id="T1", subject="New", description="d1"
                ),
            ),
            done=(),
        ),
        "E2": _with_tasks(
            make("E2"),
            open_=(
                TaskRef(key="servefirst:E2:sponsor_missing", rule="sponsor_missing", task_id="T9"),
            ),
            done=(),
        ),
        "E3": _with_tasks(
            make("E3"),
            open_=(),
            done=(
                TaskRef(
                    key="servefirst:E3:sponsor_missing",
                    rule="sponsor_missing",
                    task_id="T7",
                    subject="Name her",
                ),
            ),
        ),
    }
    text = {"servefirst:E3:sponsor_missing": {"subject": "Name him", "due": "2026-03-05"}}
    planned = plan_revert(run, current, text)
    (update,) = planned.plan.task_updates
    assert (update.task_id, update.subject, update.description) == ("T1", "Old", "d0")
    assert [(c.engagement_id, c.task_id) for c in planned.plan.task_closes] == [("E2", "T9")]
    (reopen,) = planned.plan.task_opens
    assert (reopen.reopen_task_id, reopen.task.subject) == ("T7", "Name her")  # as the CRM has it
    assert reopen.task.due.isoformat() == "2026-03-05"
    assert planned.left_alone == []

    reworded = current["E1"].open_tasks[0].model_copy(update={"subject": "Rep's own words"})
    current["E1"] = _with_tasks(current["E1"], open_=(reworded,), done=())
    again = plan_revert(run, current, {})
    assert again.plan.task_updates == ()
    assert {(i.record_id, i.kind) for i in again.left_alone} == {
        ("E1", "task_update"),
        ("E3", "task_close"),  # no due date anywhere: cannot reopen it as it was
    }


def test_a_revert_waits_its_turn_behind_a_run_holding_the_connection(
    config: Path, fake: FakeConnector
) -> None:
    first = sync(config)
    store = StateStore.open(f"sqlite:///{config.parent / '.servefirst' / 'state.db'}")
    try:
        held = store.acquire_lease("acme", ttl=dt.timedelta(minutes=5), holder="a scheduled sync")
        writes = len(fake.plans)
        result = runner.invoke(app, ["runs", "revert", str(first["run_id"]), "-c", str(config)])
        assert result.exit_code == 3
        assert "add --wait to wait for it" in result.stderr
        assert len(fake.plans) == writes  # nothing written while another run holds it
        code, _ = invoke("runs", "revert", str(first["run_id"]), "-c", str(config), "--dry-run")
        assert code == 0  # a dry run only reads: it takes no lease
        store.release_lease(held)
        code, doc = revert(config, first["run_id"])
        assert (code, doc["status"]) == (0, "ok")
        assert store.get_lease("acme") is None  # given back
    finally:
        store.close()
