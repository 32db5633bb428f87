"""Snapshots and pipeline history: what every real sync leaves behind for reports.

Also the upgrade that adds them: a database written before snapshots existed keeps every run and
change, and its history gains names where the engagements are known.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement, PluginFields, Status
from servefirst.sync.engine import RunReport, SyncOptions, run_sync
from servefirst.sync.state import RunStatus, StateStore
from servefirst.sync.state.records import EngagementSnapshot, FindingSnapshot
from servefirst.sync.state.schema import MIGRATIONS

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
Make = Callable[..., Engagement]


def sync(fake: FakeConnector, playbook: Playbook, store: StateStore, **opts: Any) -> RunReport:
    as_of = opts.pop("as_of", T0)
    return run_sync(fake, playbook, store, "acme", SyncOptions(as_of=as_of, **opts))


def test_a_sync_keeps_each_engagements_evaluated_state(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(make("E1"))
    fake.add(
        make("E2", sponsor=False).model_copy(
            update={"owner_name": "Ana Lopez", "account": "Kestrel", "waiver_text": "ok by Bo"}
        )
    )
    fake.add(make("E3", stage=None))
    fake.add(make("E4", status=Status.WON, stage=None))
    report = sync(fake, prime, store)
    calls = report.totals.api_calls_read + report.totals.api_calls_write

    snaps = {s.engagement_id: s for s in store.snapshots.all()}
    assert set(snaps) == {"E1", "E2", "E3", "E4"}
    e2 = snaps["E2"]
    assert (e2.name, e2.owner_name, e2.account, e2.waiver) == (
        "Engagement E2",
        "Ana Lopez",
        "Kestrel",
        "ok by Bo",
    )
    assert (e2.stage, e2.stage_label, e2.status) == ("design", "Design", "open")
    assert e2.health == "off_track"
    assert e2.rules == ("sponsor_missing",)
    assert "sponsor" in e2.findings[0].message
    assert e2.po_date == T0 + dt.timedelta(days=30)
    assert e2.operational_date == T0 + dt.timedelta(days=90)
    assert e2.url == "https://crm.example/records/E2"
    assert (e2.run_id, e2.as_of, e2.connection) == (report.run_id, T0, "acme")
    assert snaps["E3"].stage_label == "Negotiation"  # the CRM's own stage, outside the playbook
    assert snaps["E4"].stage_label == "Won"
    assert snaps["E1"].stage_rank < snaps["E3"].stage_rank < snaps["E4"].stage_rank
    assert calls == 2  # one page read, one batch written: snapshots cost no call

    (point,) = store.snapshots.history()
    assert point.run_id == report.run_id
    health = [s.health for s in snaps.values()]
    assert (point.engagements, point.on_track, point.at_risk, point.off_track) == (
        4,
        health.count("on_track"),
        health.count("at_risk"),
        health.count("off_track"),
    )
    assert point.findings_by_rule == {
        rule: sum(rule in s.rules for s in snaps.values())
        for rule in sorted({r for s in snaps.values() for r in s.rules})
    }


def test_incremental_runs_update_what_they_read_and_the_trend_covers_the_whole_pipeline(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    for i in range(1, 6):
        fake.add(make(f"E{i}"))
    first = sync(fake, prime, store)
    settled = sync(fake, prime, store)  # re-reads what the first run wrote
    fake.edit("E2", sponsors=(), operational_date=T0 + dt.timedelta(days=120))
    second = sync(fake, prime, store)
    assert second.totals.engagements_read < 5  # incremental

    snaps = {s.engagement_id: s for s in store.snapshots.all()}
    assert snaps["E2"].run_id == second.run_id
    assert snaps["E2"].slips == 1
    assert snaps["E2"].health == "off_track"
    assert snaps["E1"].run_id == settled.run_id  # not re-read, still there
    history = store.snapshots.history()
    assert [p.run_id for p in history] == [first.run_id, settled.run_id, second.run_id]
    assert [(p.engagements, p.on_track, p.off_track) for p in history][1:] == [
        (5, 5, 0),
        (5, 4, 1),
    ]


def test_a_full_scan_forgets_engagements_gone_from_the_crm(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    for i in range(1, 4):
        fake.add(make(f"E{i}"))
    sync(fake, prime, store)
    del fake.records["E3"]
    sync(fake, prime, store)  # incremental: cannot tell a deletion from no change
    assert {s.engagement_id for s in store.snapshots.all()} == {"E1", "E2", "E3"}
    sync(fake, prime, store, full=True)
    assert {s.engagement_id for s in store.snapshots.all()} == {"E1", "E2"}
    assert store.snapshots.history()[-1].engagements == 2


def test_failed_and_dry_runs_leave_no_trend_point(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(make("E1"))
    sync(fake, prime, store, dry_run=True)
    fake.pull_error = RuntimeError("boom")
    failed = sync(fake, prime, store)
    assert failed.status is RunStatus.FAILED
    assert store.snapshots.history() == []
    assert store.snapshots.all() == []


def test_history_names_engagements_and_filters_by_name_or_id(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(make("E1", sponsor=False).model_copy(update={"name": "Kestrel line 4 retrofit"}))
    fake.add(make("E2", operational_date=None))
    report = sync(fake, prime, store)

    changes = store.get_changes(report.run_id)
    assert {c.record_id: c.engagement_name for c in changes} == {
        "E1": "Kestrel line 4 retrofit",
        "E2": "Engagement E2",
    }
    opened = [c for c in changes if c.kind == "task_open" and c.record_id == "E1"]
    assert opened[0].detail is not None
    assert opened[0].detail["due"] == (T0 + dt.timedelta(days=prime.task_due_in_days)).isoformat()
    assert store.snapshots.find("acme", "kestrel LINE") == ["E1"]
    assert store.snapshots.find("acme", "E2") == ["E2"]
    assert store.snapshots.find("acme", "nothing like it") == []
    only = store.get_changes(report.run_id, record_ids=["E2"])
    assert only and {c.record_id for c in only} == {"E2"}


_V1 = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR(200) NOT NULL,
    applied_at DATETIME NOT NULL);
CREATE TABLE watermarks (connection VARCHAR(100) PRIMARY KEY, modified_since DATETIME NOT NULL,
    as_of DATE NOT NULL, run_id INTEGER, playbook_digest VARCHAR(64) NOT NULL,
    updated_at DATETIME NOT NULL);
CREATE TABLE engagement_dates (connection VARCHAR(100), engagement_id VARCHAR(64),
    last_operational_date DATE, slips INTEGER NOT NULL, first_seen DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, PRIMARY KEY (connection, engagement_id));
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, connection VARCHAR(100) NOT NULL,
    crm VARCHAR(20) NOT NULL, started_at DATETIME NOT NULL, finished_at DATETIME,
    as_of DATE NOT NULL, status VARCHAR(20) NOT NULL, dry_run BOOLEAN NOT NULL,
    full_scan BOOLEAN NOT NULL, engagements_read INTEGER NOT NULL, records_updated INTEGER NOT NULL,
    fields_updated INTEGER NOT NULL, tasks_opened INTEGER NOT NULL, tasks_closed INTEGER NOT NULL,
    conflicts_skipped INTEGER NOT NULL, record_errors INTEGER NOT NULL, on_track INTEGER NOT NULL,
    at_risk INTEGER NOT NULL, off_track INTEGER NOT NULL, api_calls_read INTEGER NOT NULL,
    api_calls_write INTEGER NOT NULL, duration_seconds FLOAT, findings_by_rule TEXT NOT NULL,
    error_message TEXT, host VARCHAR(255) NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE changes (id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, record_id VARCHAR(64) NOT NULL,
    kind VARCHAR(20) NOT NULL, name VARCHAR(100) NOT NULL, task_key VARCHAR(255), before TEXT,
    after TEXT, ok BOOLEAN, message TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, 'watermarks, engagement dates, runs and changes',
    '2026-03-01 08:00:00');
INSERT INTO runs VALUES (1, 'acme', 'salesforce', '2026-03-01 08:00:00', '2026-03-01 08:01:00',
    '2026-03-01', 'ok', 0, 1, 2, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 60.0, '{}', NULL, 'h', 1);
INSERT INTO changes VALUES (1, 1, 'E1', 'field', 'health', NULL, NULL, '"off_track"', 1, '');
"""


def test_a_database_from_before_snapshots_upgrades_with_its_history(
    tmp_path: Path, fake: FakeConnector, prime: Playbook, make: Make
) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.executescript(_V1)
    store = StateStore.open(f"sqlite:///{path}")
    try:
        assert store.version == len(MIGRATIONS)
        old = store.get_run(1)
        assert old is not None
        assert (old.status, old.kind, old.totals.off_track) == (RunStatus.OK, "sync", 1)
        (change,) = store.get_changes(1)
        assert (change.after, change.engagement_name) == ("off_track", None)

        fake.add(make("E1").model_copy(update={"current": PluginFields(health=None)}))
        run_sync(fake, prime, store, "acme", SyncOptions(as_of=T0))
        (change,) = store.get_changes(1)
        assert change.engagement_name == "Engagement E1"  # from the snapshot the sync left
    finally:
        store.close()


def test_snapshots_history_and_the_upgrade_step_on_each_backend(any_store: StateStore) -> None:
    store = any_store
    run = store.start_run("acme", "hubspot", T0, dry_run=False, full_scan=True)
    snap = EngagementSnapshot(
        engagement_id="E1",
        name="Kestrel Line 4",
        status="open",
        stage="design",
        stage_label="Design",
        stage_rank=2,
        health="at_risk",
        findings=(FindingSnapshot("po_date_past", "warning", "The PO date passed."),),
        po_date=T0,
        run_id=run,
        as_of=T0,
    )
    store.snapshots.put("acme", [snap])
    store.snapshots.put("acme", [snap])  # replaced, not doubled
    store.snapshots.close_run("acme", run, T0, full_scan=True)
    assert store.snapshots.all(["acme"]) == [replace(snap, connection="acme")]
    assert store.snapshots.find("acme", "kestrel") == ["E1"]
    (point,) = store.snapshots.history(["acme"])
    assert (point.at_risk, point.findings_by_rule) == (1, {"po_date_past": 1})

    # Step 2 adds its columns only where missing: run it on tables that lack them.
    with store.engine.begin() as conn:
        for table, column in (("runs", "kind"), ("changes", "engagement_name")):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    (step,) = [m for m in MIGRATIONS if m.version == 2]
    with store.engine.begin() as conn:
        step.apply(conn)
        step.apply(conn)  # and is safe to repeat
    found = store.get_run(run)
    assert found is not None
    assert found.kind == "sync"  # the column's default fills existing rows
