"""The engine's guarantees, on an in-memory CRM: minimal, idempotent, crash-safe, time-aware."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from servefirst.connectors.base import PLUGIN_FIELDS
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import AuthError
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import (
    Assessment,
    Engagement,
    Health,
    PluginFields,
    Sponsor,
    Status,
)
from servefirst.sync.cli.sync_render import render_sync
from servefirst.sync.engine import FailureKind, RunReport, SyncOptions, run_sync
from servefirst.sync.state import RunStatus, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
Make = Callable[..., Engagement]


def sync(
    fake: FakeConnector, playbook: Playbook, store: StateStore, as_of: dt.date = T0, **opts: Any
) -> RunReport:
    return run_sync(fake, playbook, store, "acme", SyncOptions(as_of=as_of, **opts))


def seed(fake: FakeConnector, make: Make) -> None:
    fake.add(make("E1"))  # on track
    fake.add(make("E2", sponsor=False))  # sponsor_missing: a task
    fake.add(make("E3", operational_date=None))  # operational_date_missing: a task
    fake.add(make("E4", stage=None))  # stage_unmapped: a flag


def writes(fake: FakeConnector) -> list[tuple[str, str]]:
    return [(c.engagement_id, c.field) for p in fake.plans for u in p.updates for c in u.changes]


def test_first_run_writes_only_plugin_fields_and_opens_tasks(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    report = sync(fake, prime, store)

    assert report.status is RunStatus.OK
    assert report.full_scan
    row = store.get_run(report.run_id)
    assert row is not None
    assert row.full_scan  # the engine chose it (first run): the history says so
    assert report.totals.engagements_read == 4
    assert {field for _, field in writes(fake)} <= set(PLUGIN_FIELDS)
    assert fake.records["E1"].current.health is Health.ON_TRACK
    assert fake.records["E2"].current.health is Health.OFF_TRACK
    assert fake.records["E4"].current.health is Health.AT_RISK
    assert "is not part of the serve-first playbook" in (fake.records["E4"].current.findings or "")
    assert sorted(t.rule for t in fake.open_tasks()) == ["sponsor_missing", "timetable"]
    assert report.totals.tasks_opened == 2
    assert report.totals.health() == {"on_track": 1, "at_risk": 1, "off_track": 2}
    assert report.totals.findings_by_rule == {
        "sponsor_missing": 1,
        "operational_date_missing": 1,
        "stage_unmapped": 1,
    }
    # Rep-owned values are exactly as the reps left them.
    assert fake.records["E3"].operational_date is None
    assert fake.records["E2"].sponsors == ()


def test_second_run_with_nothing_new_makes_zero_writes(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    # Our own writes moved last-modified: the next run re-reads them and must find nothing to do.
    fake.plans.clear()
    again = sync(fake, prime, store)
    assert again.status is RunStatus.OK
    assert not again.full_scan
    assert fake.plans == []
    assert again.totals.api_calls_write == 0
    assert again.totals.counts() == {
        "engagements_read": 4,
        "records_updated": 0,
        "fields_updated": 0,
        "tasks_opened": 0,
        "tasks_closed": 0,
        "tasks_updated": 0,
        "tasks_reopened": 0,
        "conflicts_skipped": 0,
        "record_errors": 0,
    }
    third = sync(fake, prime, store)
    assert third.totals.engagements_read == 0
    assert third.totals.api_calls_read == 1
    assert fake.plans == []


def test_only_the_differing_field_is_written(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    fake.plans.clear()
    fake.edit("E1", operational_date=T0 + dt.timedelta(days=100))  # a slip, still on track
    report = sync(fake, prime, store)
    # the slip count, and the timetable that shows the new date; health and findings stay
    assert sorted(writes(fake)) == [("E1", "slips"), ("E1", "timetable")]
    assert fake.records["E1"].current.slips == 1
    assert report.totals.records_updated == 1
    assert report.totals.fields_updated == 2


def test_task_closed_when_finding_disappears(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    fake.edit("E2", sponsors=(Sponsor(contact_id="003X", name="Kim"),))
    report = sync(fake, prime, store)
    assert report.totals.tasks_closed == 1
    assert [t.rule for t in fake.open_tasks("E2")] == []
    assert fake.records["E2"].current.health is Health.ON_TRACK
    assert fake.records["E2"].current.findings in (None, "")


def test_closed_lost_closes_tasks_and_leaves_fields(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    before = fake.records["E2"].current
    fake.plans.clear()
    fake.edit("E2", status=Status.LOST, stage="lost")
    report = sync(fake, prime, store)
    assert fake.open_tasks("E2") == []
    assert report.totals.tasks_closed == 1
    assert writes(fake) == []
    assert fake.records["E2"].current == before
    summary = next(e for e in report.engagements if e.id == "E2")
    assert summary.health is None


def test_one_open_task_per_rule_across_a_crash_and_rerun(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    for i in range(10):
        fake.add(make(f"S{i:02d}", sponsor=False, operational_date=None))
    fake.crash_after_writes = 25  # 10 updates, then 15 of the 20 task opens
    crashed = sync(fake, prime, store)
    assert crashed.status is RunStatus.FAILED
    assert crashed.failure is FailureKind.UNEXPECTED
    assert "killed" in (crashed.error_message or "")
    assert store.get_watermark("acme") is None
    history = store.get_changes(crashed.run_id)
    assert history and all(c.ok is None for c in history)

    fake.crash_after_writes = None
    rerun = sync(fake, prime, store)
    assert rerun.status is RunStatus.OK
    assert rerun.full_scan  # the crashed run never set a watermark
    keys = [(t.engagement_id, t.rule) for t in fake.open_tasks()]
    assert len(keys) == len(set(keys)) == 20
    assert rerun.totals.tasks_opened == 5
    assert store.get_watermark("acme") is not None


def test_duplicate_open_tasks_in_the_crm_converge_to_one(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(make("D1", sponsor=False))
    sync(fake, prime, store)
    (task,) = fake.open_tasks("D1")
    # A CRM without unique keys (or a human) produced a second open task with the same key.
    fake.new_task(task.key, task.rule, "D1", task.subject)
    report = sync(fake, prime, store, full=True)
    assert report.totals.tasks_closed == 1
    assert [t.task_id for t in fake.open_tasks("D1")] == [task.task_id]


def test_slips_count_each_later_move_and_start_from_the_crm(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    od = T0 + dt.timedelta(days=90)
    fake.add(make("P1", operational_date=od))
    fake.add(make("P2", operational_date=od, slips=2))  # slipped before servefirst's state
    sync(fake, prime, store)
    assert fake.records["P1"].current.slips == 0
    assert fake.records["P2"].current.slips == 2

    fake.edit("P1", operational_date=od + dt.timedelta(days=7))
    sync(fake, prime, store)
    fake.edit("P1", operational_date=od)  # moved earlier: not a slip
    sync(fake, prime, store)
    fake.edit("P1", operational_date=od + dt.timedelta(days=14))
    fake.edit("P2", operational_date=od + dt.timedelta(days=1))
    report = sync(fake, prime, store)

    assert fake.records["P1"].current.slips == 2
    assert fake.records["P2"].current.slips == 3
    assert fake.records["P1"].current.health is Health.ON_TRACK  # max_slips 2: not yet
    assert fake.records["P2"].current.health is Health.AT_RISK
    assert report.totals.findings_by_rule == {"operational_date_slipped": 1}
    dates = store.get_engagement_dates("acme", ["P1", "P2"])
    assert dates["P1"].last_operational_date == od + dt.timedelta(days=14)
    assert dates["P2"].slips == 3


def test_time_passing_pulls_untouched_records_whose_date_went_past(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    # Operational Dates far enough out to be feasible from "deliver" on T0.
    fake.add(make("OD", stage="deliver", po_date=T0, operational_date=T0 + dt.timedelta(days=50)))
    far = T0 + dt.timedelta(days=300)
    fake.add(make("FAR", stage="deliver", po_date=far, operational_date=far + dt.timedelta(60)))
    sync(fake, prime, store, as_of=T0)
    sync(fake, prime, store, as_of=T0)  # re-reads our own writes; now settled
    assert fake.open_tasks() == []

    later = T0 + dt.timedelta(days=52)
    report = sync(fake, prime, store, as_of=later)

    window = fake.windows[-1]
    assert window.modified_since is not None
    assert window.date_ranges, "the pull must include the key dates between the two runs"
    assert [e.id for e in report.engagements] == ["OD"]
    assert [t.rule for t in fake.open_tasks("OD")] == ["timetable"]
    assert fake.records["OD"].current.health is Health.OFF_TRACK


def test_full_forces_a_full_scan(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    sync(fake, prime, store)
    report = sync(fake, prime, store, full=True)
    assert report.full_scan
    assert fake.windows[-1].modified_since is None
    assert report.totals.engagements_read == 4


def test_dry_run_writes_nothing_and_keeps_the_watermark(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make, tmp_path: Path
) -> None:
    seed(fake, make)
    diff = tmp_path / "plan.jsonl"
    report = sync(fake, prime, store, dry_run=True, diff_file=diff)

    assert report.status is RunStatus.DRY_RUN
    assert fake.plans == []
    assert fake.open_tasks() == []
    assert store.get_watermark("acme") is None
    assert store.get_engagement_dates("acme", ["E1"]) == {}
    assert report.totals.tasks_opened == 2  # what it would do
    lines = [json.loads(line) for line in diff.read_text().splitlines()]
    fields = [line for line in lines if "field" in line]
    tasks = [line for line in lines if "task" in line]
    assert {
        "record_id": "E2",
        "engagement": "Engagement E2",
        "field": "health",
        "before": None,
        "after": "off_track",
    } in fields
    assert {(t["task"], t["record_id"], t["engagement"], t["rule"]) for t in tasks} == {
        ("open", "E2", "Engagement E2", "sponsor_missing"),
        ("open", "E3", "Engagement E3", "timetable"),
    }
    assert store.snapshots.all() == [], "a dry run leaves no snapshot: reports show real runs"
    assert all(t["key"].startswith("servefirst:") for t in tasks)
    (row,) = store.list_runs("acme")
    assert row.status is RunStatus.DRY_RUN
    assert all(c.ok is None for c in store.get_changes(row.id))


def test_per_record_refusal_gives_partial_spares_the_others_and_moves_on(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.refuse["E2"] = "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close the loop first"
    report = sync(fake, prime, store)

    assert report.status is RunStatus.PARTIAL
    assert {(p.record_id, p.message) for p in report.errors} == {
        ("E2", "FIELD_CUSTOM_VALIDATION_EXCEPTION: Close the loop first")
    }
    assert report.totals.record_errors == 2  # the update and the task open of E2
    assert fake.records["E3"].current.health is Health.OFF_TRACK
    # One refused record does not hold the watermark back: it waits in the retry set.
    mark = store.get_watermark("acme")
    assert mark is not None
    assert mark.run_id == report.run_id
    assert [(e.engagement_id, e.attempts) for e in store.retry_entries("acme")] == [("E2", 1)]
    refused = [c for c in store.get_changes(report.run_id) if c.record_id == "E2"]
    assert refused and all(c.ok is False for c in refused)
    assert "Close the loop" in refused[0].message

    del fake.refuse["E2"]
    assert sync(fake, prime, store, full=True).status is RunStatus.OK
    assert fake.records["E2"].current.health is Health.OFF_TRACK
    assert store.retry_entries("acme") == []


def test_fatal_error_fails_the_run_and_keeps_the_watermark(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    mark = store.get_watermark("acme")
    fake.pull_error = AuthError("token rejected", connection="acme")
    report = sync(fake, prime, store, as_of=T0 + dt.timedelta(days=1))
    assert report.status is RunStatus.FAILED
    assert report.failure is FailureKind.FATAL
    assert "token rejected" in (report.error_message or "")
    assert store.get_watermark("acme") == mark
    row = store.get_run(report.run_id)
    assert row is not None
    assert row.status is RunStatus.FAILED
    assert row.error_message == report.error_message


def test_autofill_writes_only_where_empty_and_counts_conflicts(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    rule = prime.rules["operational_date_missing"].model_copy(update={"autofill": True})
    playbook = prime.model_copy(update={"rules": {**prime.rules, "operational_date_missing": rule}})
    fake.add(make("A1", operational_date=None))
    fake.add(make("A2", operational_date=None))
    rep_date = T0 + dt.timedelta(days=120)

    def rep_fills_a2_first(crm: FakeConnector) -> None:
        crm.edit("A2", operational_date=rep_date)

    fake.before_write = rep_fills_a2_first
    report = sync(fake, playbook, store)

    proposed = T0 + dt.timedelta(days=30 + playbook.delivery_lead_days)
    assert fake.records["A1"].operational_date == proposed
    assert fake.records["A2"].operational_date == rep_date  # the rep's value wins
    assert report.totals.conflicts_skipped == 1
    assert report.status is RunStatus.OK
    assert fake.open_tasks() == []  # evaluated with the proposed date: no missing-date task
    only_if_empty = [
        c for p in fake.plans for u in p.updates for c in u.changes if c.field == "operational_date"
    ]
    assert only_if_empty and all(c.only_if_empty for c in only_if_empty)


def test_batches_stream_and_progress_is_reported(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.page_size = 7
    for i in range(25):
        fake.add(make(f"B{i:02d}", sponsor=i % 2 == 0))
    seen: list[int] = []
    report = run_sync(
        fake,
        prime,
        store,
        "acme",
        SyncOptions(as_of=T0, batch_size=10),
        on_progress=lambda totals: seen.append(totals.engagements_read),
    )
    assert seen == [10, 20, 25]
    assert len(fake.plans) == 3  # one apply per batch
    assert report.totals.api_calls_read == 4  # ceil(25 / 7) pages
    assert report.totals.tasks_opened == 12


def test_a_record_that_cannot_be_evaluated_is_reported_not_fatal(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)

    def evaluator(
        engagement: Engagement, playbook: Playbook, as_of: dt.date, *, slips: int
    ) -> Assessment:
        if engagement.id == "E3":
            raise ValueError("stage table is corrupt")
        return evaluate(engagement, playbook, as_of, slips=slips)

    report = run_sync(fake, prime, store, "acme", SyncOptions(as_of=T0), evaluator=evaluator)
    assert report.status is RunStatus.PARTIAL
    assert [(p.record_id, "corrupt" in p.message) for p in report.errors] == [("E3", True)]
    assert fake.records["E2"].current.health is Health.OFF_TRACK


def test_a_changed_playbook_forces_a_full_scan(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    sync(fake, prime, store)
    assert sync(fake, prime, store).totals.engagements_read == 0

    # RevOps turn a rule off: engagements nobody touched must lose its finding.
    off = prime.rules["stage_unmapped"].model_copy(update={"enabled": False})
    tuned = prime.model_copy(update={"rules": {**prime.rules, "stage_unmapped": off}})
    report = sync(fake, tuned, store)
    assert report.full_scan
    assert report.totals.engagements_read == 4
    assert fake.records["E4"].current.health is Health.ON_TRACK
    assert not sync(fake, tuned, store).full_scan


def test_the_watermark_is_the_crm_clock_before_the_pull(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    sync(fake, prime, store)
    sync(fake, prime, store)
    real_pull = fake.pull

    def pull_while_a_rep_edits(window: Any) -> Any:
        for i, engagement in enumerate(real_pull(window)):
            if i == 0:
                fake.edit("E1", name="Renamed while the run was reading")
            yield engagement

    fake.add(make("NEW"))
    before = fake.clock
    fake.pull = pull_while_a_rep_edits  # type: ignore[method-assign]
    sync(fake, prime, store)
    mark = store.get_watermark("acme")
    assert mark is not None
    assert before < mark.modified_since < fake.records["E1"].last_modified  # type: ignore[operator]
    fake.pull = real_pull  # type: ignore[method-assign]
    assert "E1" in {e.id for e in sync(fake, prime, store).engagements}


def test_ctrl_c_records_the_run_as_interrupted_and_propagates(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.pull_error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        sync(fake, prime, store)
    (row,) = store.list_runs("acme")
    assert row.status is RunStatus.INTERRUPTED
    assert store.get_watermark("acme") is None


def test_runs_converge_on_either_state_backend(
    fake: FakeConnector, prime: Playbook, any_store: StateStore, make: Make
) -> None:
    seed(fake, make)
    fake.edit("E1", current=PluginFields(slips=1))
    first = sync(fake, prime, any_store)
    fake.edit("E1", operational_date=T0 + dt.timedelta(days=95))  # a slip, counted from 1
    assert sync(fake, prime, any_store).status is RunStatus.OK
    fake.plans.clear()
    quiet = sync(fake, prime, any_store)
    assert fake.plans == []
    assert fake.records["E1"].current.slips == 2
    assert [r.id for r in any_store.list_runs("acme")][-1] == first.run_id
    mark = any_store.get_watermark("acme")
    assert mark is not None
    assert mark.run_id == quiet.run_id


def test_an_engagement_pulled_twice_is_planned_once(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(make("D1", sponsor=False))
    real_pull = fake.pull

    def twice(window: Any) -> Any:
        records = list(real_pull(window))
        yield from records + records

    fake.pull = twice  # type: ignore[method-assign]
    report = sync(fake, prime, store)
    assert report.totals.engagements_read == 1
    assert [len(p.task_opens) for p in fake.plans] == [1]


def test_a_periodic_full_scan_catches_what_no_stamp_shows(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    """A sponsor label added in HubSpot never touches the deal: only a full scan sees it."""
    seed(fake, make)
    every = dt.timedelta(hours=24)
    assert sync(fake, prime, store, full_scan_every=every).full_scan  # the first run
    assert not sync(fake, prime, store, full_scan_every=every).full_scan  # the last is fresh
    assert not sync(fake, prime, store).full_scan  # off: age alone never forces one
    assert sync(fake, prime, store, full_scan_every=dt.timedelta(0)).full_scan  # overdue
    assert sync(fake, prime, store, full_scan_every=dt.timedelta(0), dry_run=True).full_scan
    last = store.last_full_scan("acme")
    assert last is not None
    assert [r.full_scan for r in store.list_runs("acme", limit=2)] == [True, True]
    assert not sync(fake, prime, store, full_scan_every=every).full_scan
    assert store.last_full_scan("acme") == last  # a dry run is not a full scan of record


def test_waived_findings_open_no_task_and_are_listed_in_the_run_report(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    waived = make("W", sponsor=False).model_copy(
        update={"waiver_text": f"Sponsor until {T0 + dt.timedelta(days=30)}: reorg in July"}
    )
    fake.add(waived)
    fake.add(make("N", sponsor=False))
    report = sync(fake, prime, store)
    assert [t.key for t in fake.open_tasks()] == ["servefirst:N:sponsor_missing"]
    assert fake.records["W"].current.health is Health.ON_TRACK
    doc = report.to_json()
    engagements = {e["id"]: e for e in doc["engagements"]}  # type: ignore[attr-defined]
    assert engagements["W"]["findings"] == []
    assert engagements["W"]["waived"] == [
        {
            "rule": "sponsor_missing",
            "message": "Engagement W is in Design but has no sponsor: nobody on the customer's "
            "side owns the problem with you.",
            "until": (T0 + dt.timedelta(days=30)).isoformat(),
            "reason": "reorg in July",
        }
    ]
    assert engagements["N"]["waived"] == []


def test_the_readable_summary_lists_waivers(
    fake: FakeConnector, prime: Playbook, store: StateStore, make: Make
) -> None:
    fake.add(
        make("W", sponsor=False).model_copy(
            update={"waiver_text": f"Sponsor until {T0 + dt.timedelta(days=30)}: reorg in July"}
        )
    )
    console = Console(record=True, width=120)
    render_sync(console, sync(fake, prime, store))
    out = console.export_text()
    assert "Waived by a manager" in out
    assert "Engagement W" in out
    assert "reorg in July" in out
