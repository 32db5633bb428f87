"""End to end on both CRM sandboxes: the CLI drives the real connectors over real HTTP.

provision -> sync -> a rep's edit through the CRM's own client -> sync; kill -9 in the middle
of a run, then run again; a run under injected faults; a run after the clock passes an
Operational Date with no record changed; SIGTERM while a scheduled sync runs. Open tasks are
read back through the CRM's client, never through servefirst.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from servefirst.config.loader import (
    builtin_playbook,
    load_playbook,
    load_playbook_file,
    load_settings,
)
from servefirst.playbook.model import Action
from servefirst.sync.cli import app
from servefirst.sync.engine import SyncOptions
from servefirst.sync.service import sync_connection
from servefirst.sync.state import RunStatus

if TYPE_CHECKING:
    from tests.sync.acceptance.conftest import Driver

PRIME = load_playbook_file(builtin_playbook("prime"))
TASK_RULES = {rule_id for rule_id, rule in PRIME.rules.items() if rule.action is Action.TASK}
TODAY = dt.datetime.now(dt.UTC).date()
SERVEFIRST = Path(sys.executable).parent / "servefirst"


def cli(crm: Driver, *args: str) -> tuple[int, Any]:
    """Run a servefirst command in-process; parse its JSON output when it has one."""
    result = CliRunner().invoke(app, [*args, "-c", str(crm.sandbox.config_path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert crm.sandbox.token not in result.output  # stdout and stderr: never a secret
    doc = json.loads(result.stdout) if "--json" in args else {}
    return result.exit_code, doc


def spawn(crm: Driver, *args: str, stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """A servefirst process of its own (with the connectors' production overlap)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    command = [str(SERVEFIRST), *args, "-c", str(crm.sandbox.config_path)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def settle() -> None:
    """Let the CRM's clock tick past the last writes before the next run starts.

    A watermark is the ``Date`` of the run's first response, in whole seconds, so a run that
    starts within the second of earlier writes re-reads them next time: harmless, but these
    tests want to see a quiet run.
    """
    time.sleep(1.1)


def expected_task_keys(crm: Driver, as_of: dt.date = TODAY) -> set[str]:
    """What the playbook wants open now, from a full dry run (which writes nothing)."""
    code, doc = cli(crm, "sync", "--full", "--dry-run", "--json", "--as-of", str(as_of))
    assert code == 0, doc
    return {
        f"servefirst:{e['id']}:{PRIME.group_of(f['rule']) or f['rule']}"
        for e in doc["engagements"]
        for f in e["findings"]
        if f["rule"] in TASK_RULES
    }


def assert_one_open_task_per_violation(crm: Driver, as_of: dt.date = TODAY) -> None:
    keys = crm.open_task_keys()
    assert {k: n for k, n in Counter(keys).items() if n > 1} == {}
    assert set(keys) == expected_task_keys(crm, as_of)


def test_provision_sync_rep_edit_sync_then_nothing_to_do(crm: Driver) -> None:
    assert cli(crm, "provision")[0] == 0
    code, first = cli(crm, "sync", "--json")
    assert code == 0, first["errors"]
    assert first["status"] == "ok"
    assert first["counts"]["engagements_read"] >= 40
    assert first["counts"]["tasks_opened"] > 0
    assert_one_open_task_per_violation(crm)

    code, second = cli(crm, "sync", "--json")
    assert (code, second["api_calls"]["write"], second["counts"]["fields_updated"]) == (0, 0, 0)

    # A rep agrees the Operational Date of one engagement with its sponsor, in the CRM.
    code, plan = cli(crm, "sync", "--full", "--dry-run", "--json")
    record_id = next(
        e["id"]
        for e in plan["engagements"]
        if {f["rule"] for f in e["findings"]} == {"operational_date_missing"}
    )
    missing = f"servefirst:{record_id}:timetable"
    assert missing in crm.open_task_keys()
    crm.set_operational_date(record_id, TODAY + dt.timedelta(days=400))
    code, fixed = cli(crm, "sync", "--json")
    assert code == 0
    assert fixed["counts"]["tasks_closed"] >= 1
    assert missing not in crm.open_task_keys()
    assert record_id in {e["id"] for e in fixed["engagements"]}
    assert_one_open_task_per_violation(crm)

    settle()
    cli(crm, "sync", "--json")  # re-reads the records the previous run wrote
    code, quiet = cli(crm, "sync", "--json")
    assert code == 0
    assert quiet["counts"]["engagements_read"] == 0
    assert quiet["api_calls"]["write"] == 0
    # the changed records, plus the completed playbook tasks (and on Salesforce the contact
    # roles, on HubSpot the pipeline): a fixed cost, whatever the org's size
    assert quiet["api_calls"]["total"] <= 3
    state = crm.sandbox.config_path.parent / "servefirst-state.db"
    assert crm.sandbox.token.encode() not in state.read_bytes()


def test_kill_9_in_the_middle_of_a_run_then_run_again(crm: Driver) -> None:
    assert cli(crm, "provision")[0] == 0
    admin = crm.admin
    admin.reset_stats()
    # Slow the task writes down so that the kill lands while they are under way.
    admin.inject("latency", count=100, latency_ms=700, path_prefix=crm.task_write_prefix)
    proc = spawn(crm, "sync")
    try:
        deadline = time.monotonic() + 30
        while not crm.writing_tasks(admin.stats()["by_endpoint"]):
            assert time.monotonic() < deadline, f"no task writes seen: {admin.stats()}"
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    admin.clear_faults()
    time.sleep(0.8)  # let the sandbox finish the request the dead client left behind
    before = crm.open_task_keys()

    code, rerun = cli(crm, "sync", "--json")
    assert code == 0, rerun["errors"]
    assert rerun["counts"]["engagements_read"] >= 40  # the killed run never moved the watermark
    assert_one_open_task_per_violation(crm)
    assert set(before) <= set(crm.open_task_keys())
    code, runs = cli(crm, "runs", "list", "--json")
    assert [r["status"] for r in runs][-1] == "interrupted"  # found by the next start


def test_a_run_under_injected_faults_converges(crm: Driver) -> None:
    assert cli(crm, "provision")[0] == 0
    crm.admin.random_faults(0.15, 7, [{"kind": "status", "status": 503}, {"kind": "reset"}])
    code, faulted = cli(crm, "sync", "--json")
    crm.admin.clear_faults()
    assert code in (0, 1), faulted["errors"]
    code, clean = cli(crm, "sync", "--json")
    assert code == 0, clean["errors"]
    assert_one_open_task_per_violation(crm)


def test_the_clock_passing_an_operational_date_reaches_the_crm_without_a_full_scan(
    crm: Driver,
) -> None:
    assert cli(crm, "provision")[0] == 0
    code, first = cli(crm, "sync", "--json")
    assert code == 0
    settle()
    cli(crm, "sync", "--json")  # re-reads the records the previous run wrote
    total = first["counts"]["engagements_read"]

    # The open, on-time engagement whose Operational Date comes next; nobody edits anything.
    on_time = {
        e["id"]
        for e in first["engagements"]
        if e["health"] is not None
        and e["stage"] not in ("won", "lost")
        and not any(f["rule"] == "operational_date_past" for f in e["findings"])
    }
    upcoming = sorted(
        (date, record_id)
        for record_id, date in crm.operational_dates().items()
        if record_id in on_time and date is not None and date >= TODAY
    )
    assert upcoming, "the demo org has open engagements with a future Operational Date"
    when, record_id = upcoming[0]
    later = when + dt.timedelta(days=1)

    # The CLI syncs for real only as of today; a later day is a date the engine is handed.
    settings = load_settings(crm.sandbox.config_path)
    report = sync_connection(settings, load_playbook(settings), None, SyncOptions(as_of=later))
    moved: Any = report.to_json()
    assert report.status is RunStatus.OK, moved["errors"]
    assert moved["counts"]["engagements_read"] < total  # only the key-date ranges were read
    evaluated = {e["id"]: e for e in moved["engagements"]}
    assert record_id in evaluated
    assert "operational_date_past" in {f["rule"] for f in evaluated[record_id]["findings"]}
    assert f"servefirst:{record_id}:timetable" in crm.open_task_keys()
    assert_one_open_task_per_violation(crm, later)


def test_sigterm_stops_the_scheduled_sync_after_its_batch(crm: Driver) -> None:
    assert cli(crm, "provision")[0] == 0
    admin = crm.admin
    admin.reset_stats()
    admin.inject("latency", count=3, latency_ms=1500, path_prefix=crm.task_write_prefix)
    log = crm.sandbox.config_path.parent / "run.log"
    with log.open("w") as stderr:
        proc = spawn(crm, "run", stderr=stderr)
    try:
        deadline = time.monotonic() + 30
        while not crm.writing_tasks(admin.stats()["by_endpoint"]):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # while the first sync waits on its task writes
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code, runs = cli(crm, "runs", "list", "--json")
    assert code == 0
    (run,) = runs
    # The batch being written was finished and recorded; then the run stopped, unfinished.
    assert run["status"] == "interrupted"
    assert run["counts"]["tasks_opened"] > 0
    assert "scheduler_stopped" in log.read_text()
    assert_one_open_task_per_violation(crm)
    code, again = cli(crm, "sync", "--json")
    assert code == 0, again["errors"]
    assert again["counts"]["tasks_opened"] == 0  # nothing was lost or left half done


def test_a_second_sigterm_exits_at_once_and_the_next_run_recovers(crm: Driver) -> None:
    assert cli(crm, "provision")[0] == 0
    crm.admin.reset_stats()
    crm.admin.inject("latency", count=100, latency_ms=2500, path_prefix=crm.task_write_prefix)
    proc = spawn(crm, "run")
    try:
        deadline = time.monotonic() + 30
        while not crm.writing_tasks(crm.admin.stats()["by_endpoint"]):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert proc.poll() is None  # the first signal waits for the sync
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    crm.admin.clear_faults()
    time.sleep(2.5)  # let the sandbox finish the request the dead process left in flight
    code, rerun = cli(crm, "sync", "--json")
    assert code == 0, rerun["errors"]
    code, runs = cli(crm, "runs", "list", "--json")
    assert [r["status"] for r in runs] == ["ok", "interrupted"]
    assert_one_open_task_per_violation(crm)
