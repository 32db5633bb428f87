"""The state store: migrations, watermarks, key dates, run history, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, inspect, text, update

from servefirst.playbook.errors import ConfigError
from servefirst.sync.state import (
    ChangeRecord,
    EngagementDates,
    RunStatus,
    RunTotals,
    StateStore,
    schema,
)
from servefirst.sync.state.schema import MIGRATIONS, Migration, current_version, migrate

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def test_migrates_an_empty_database_and_reopens_without_change(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "state.db"
    first = StateStore.open(f"sqlite:///{path}")
    assert path.is_file()  # the folder was created
    assert first.version == len(MIGRATIONS)
    tables = set(inspect(first.engine).get_table_names())
    assert {"schema_version", "watermarks", "engagement_dates", "runs", "changes"} <= tables
    run_id = first.start_run("acme", "salesforce", NOW.date(), dry_run=False, full_scan=True)
    first.close()

    again = StateStore.open(f"sqlite:///{path}")
    assert again.version == len(MIGRATIONS)
    with again.engine.connect() as conn:
        rows = conn.execute(text("SELECT version FROM schema_version")).all()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]
    assert again.get_run(run_id) is not None
    again.close()


def test_a_new_migration_step_upgrades_and_keeps_history(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    run_id = store.start_run("acme", "hubspot", NOW.date(), dry_run=False, full_scan=False)

    def add_note(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN note TEXT"))

    steps = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "runs.note", add_note))
    assert migrate(store.engine, steps) == len(steps)
    assert migrate(store.engine, steps) == len(steps)  # idempotent
    assert current_version(store.engine) == len(steps)
    assert "note" in {c["name"] for c in inspect(store.engine).get_columns("runs")}
    assert store.get_run(run_id) is not None
    store.close()


def test_migration_versions_must_not_have_gaps(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ValueError, match="without gaps"):
        migrate(engine, (Migration(2, "two", lambda _conn: None),))
    engine.dispose()


def test_a_bad_state_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="state_url"):
        StateStore.open("not a url")


def test_watermarks_round_trip_in_utc(any_store: StateStore) -> None:
    assert any_store.get_watermark("acme") is None
    any_store.set_watermark("acme", NOW, NOW.date(), 7)
    later = NOW + dt.timedelta(hours=1)
    any_store.set_watermark("acme", later, NOW.date() + dt.timedelta(days=1), 8)
    mark = any_store.get_watermark("acme")
    assert mark is not None
    assert mark.modified_since == later
    assert mark.modified_since.tzinfo is not None
    assert mark.as_of == NOW.date() + dt.timedelta(days=1)
    assert mark.run_id == 8
    assert any_store.get_watermark("other") is None


def test_engagement_dates_upsert_in_chunks(any_store: StateStore) -> None:
    rows = [
        EngagementDates(f"E{i:04d}", NOW.date() + dt.timedelta(days=i), i % 3, NOW)
        for i in range(1200)
    ]
    any_store.put_engagement_dates("acme", rows)
    changed = [EngagementDates("E0001", None, 9, NOW)]
    any_store.put_engagement_dates("acme", changed)
    found = any_store.get_engagement_dates("acme", [r.engagement_id for r in rows])
    assert len(found) == 1200
    assert found["E0001"] == EngagementDates("E0001", None, 9, NOW)
    assert found["E1199"].slips == 1199 % 3
    assert any_store.get_engagement_dates("other", ["E0001"]) == {}


def test_run_history_with_changes(any_store: StateStore) -> None:
    run_id = any_store.start_run("acme", "salesforce", NOW.date(), dry_run=False, full_scan=True)
    running = any_store.get_run(run_id)
    assert running is not None
    assert running.status is RunStatus.RUNNING
    assert running.pid == os.getpid()
    any_store.record_changes(
        run_id,
        [
            ChangeRecord("006A", "field", "health", None, "off_track", ok=True),
            ChangeRecord(
                "006A", "field", "operational_date", None, NOW.date(), ok=False, message="skipped"
            ),
            ChangeRecord(
                "006A",
                "task_open",
                "sponsor_missing",
                None,
                "Name the sponsor",
                task_key="servefirst:006A:sponsor_missing",
                ok=None,
            ),
        ],
    )
    totals = RunTotals(
        engagements_read=3,
        fields_updated=1,
        tasks_opened=1,
        off_track=1,
        api_calls_read=2,
        api_calls_write=1,
        findings_by_rule={"sponsor_missing": 1},
    )
    any_store.finish_run(
        run_id, status=RunStatus.PARTIAL, totals=totals, duration_seconds=1.5, error_message=None
    )
    done = any_store.get_run(run_id)
    assert done is not None
    assert done.status is RunStatus.PARTIAL
    assert done.totals == totals
    assert done.finished_at is not None
    assert done.duration_seconds == 1.5
    changes = any_store.get_changes(run_id)
    assert [(c.kind, c.name, c.after, c.ok) for c in changes] == [
        ("field", "health", "off_track", True),
        ("field", "operational_date", NOW.date().isoformat(), False),
        ("task_open", "sponsor_missing", "Name the sponsor", None),
    ]
    assert changes[2].task_key == "servefirst:006A:sponsor_missing"
    assert [r.id for r in any_store.list_runs("acme")] == [run_id]
    assert any_store.list_runs("other") == []
    assert any_store.get_run(run_id + 1000) is None


def test_a_dead_running_run_is_marked_interrupted_on_next_start(any_store: StateStore) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = any_store.start_run("acme", "salesforce", NOW.date(), dry_run=False, full_scan=False)
    live = any_store.start_run("acme", "salesforce", NOW.date(), dry_run=False, full_scan=False)
    with any_store.engine.begin() as conn:
        conn.execute(update(schema.runs).where(schema.runs.c.id == killed).values(pid=dead.pid))
    any_store.start_run("acme", "salesforce", NOW.date(), dry_run=False, full_scan=False)

    gone = any_store.get_run(killed)
    still = any_store.get_run(live)
    assert gone is not None
    assert still is not None
    assert gone.status is RunStatus.INTERRUPTED
    assert "stopped before it finished" in (gone.error_message or "")
    assert still.status is RunStatus.RUNNING  # this very process: alive


def test_processes_opening_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = (
        "import sys; from servefirst.sync.state import StateStore; "
        "StateStore.open(sys.argv[1]).close()"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    store = StateStore.open(url)
    with store.engine.connect() as conn:
        versions = [r[0] for r in conn.execute(text("SELECT version FROM schema_version"))]
    store.close()
    assert versions == [m.version for m in MIGRATIONS]


WRITER = """
import datetime as dt, sys
from servefirst.sync.state import ChangeRecord, RunStatus, RunTotals, StateStore
store = StateStore.open(sys.argv[1])
for i in range(15):
    run = store.start_run(sys.argv[2], "hubspot", dt.date(2026, 3, 2), dry_run=False,
                          full_scan=False)
    store.record_changes(run, [ChangeRecord(f"E{i}", "field", "health", None, "on_track", ok=True)])
    store.set_watermark(sys.argv[2], dt.datetime.now(dt.UTC), dt.date(2026, 3, 2), run)
    store.finish_run(run, status=RunStatus.OK, totals=RunTotals(), duration_seconds=0.1)
    store.list_runs()
store.close()
"""


def test_processes_sharing_the_sqlite_file_take_turns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    names = ["acme", "globex", "initech", "umbrella"]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, name]) for name in names]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    store = StateStore.open(url)
    runs = store.list_runs(limit=1000)
    store.close()
    assert len(runs) == 60
    assert all(r.status is RunStatus.OK for r in runs)


def test_a_version_2_database_gains_the_task_counts_and_keeps_its_runs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = create_engine(url)
    migrate(engine, MIGRATIONS[:2])
    with engine.begin() as conn:  # a runs table as version 2 left it
        for name in ("tasks_updated", "tasks_reopened"):
            conn.execute(text(f"ALTER TABLE runs DROP COLUMN {name}"))
        conn.execute(
            text(
                "INSERT INTO runs (connection, crm, started_at, as_of, status, dry_run, "
                "full_scan, engagements_read, records_updated, fields_updated, tasks_opened, "
                "tasks_closed, conflicts_skipped, record_errors, on_track, at_risk, off_track, "
                "api_calls_read, api_calls_write, findings_by_rule, host, pid) VALUES ('acme', "
                "'hubspot', '2026-03-02 09:30:00', '2026-03-02', 'ok', 0, 1, 5, 1, 1, 2, 0, 0, "
                "0, 4, 1, 0, 3, 2, '{}', '', 0)"
            )
        )
    engine.dispose()
    store = StateStore.open(url)
    assert store.version == len(MIGRATIONS)
    (run,) = store.list_runs("acme")
    assert (run.totals.tasks_opened, run.totals.tasks_updated, run.totals.tasks_reopened) == (
        2,
        0,
        0,
    )
    store.close()
