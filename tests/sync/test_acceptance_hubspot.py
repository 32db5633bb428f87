"""End to end on the HubSpot sandbox: the CLI drives the real connector over real HTTP.

provision -> sync -> a rep's edit through hubspot-api-client -> sync; kill -9 in the middle of
a run, then run again; a run under injected faults; a run after the clock passes an
Operational Date with no record changed. The open tasks are read back through the real client,
never through servefirst, so the assertions hold whatever the engine believes.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hubspot
import pytest
from hubspot.crm.objects import SimplePublicObjectInput
from typer.testing import CliRunner

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.connectors.hubspot.sandbox.launch import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.model import Action
from servefirst.sync.cli import app
from servefirst.sync.connectors import open_connector

TASK_RULES = {
    rule_id
    for rule_id, rule in load_playbook_file(builtin_playbook("prime")).rules.items()
    if rule.action is Action.TASK
}
TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    """A demo portal, and connectors that trust its search index to have no lag.

    In production the connector re-reads five minutes before the watermark because HubSpot's
    search index lags; against the sandbox, which has no lag, that overlap would re-read
    everything a test wrote seconds earlier and hide whether the engine asked for the right
    records. Only in-process runs get this; the subprocess runs keep the real overlap.
    """

    def without_overlap(*args: Any, **kwargs: Any) -> Any:
        connector = open_connector(*args, **kwargs)
        connector.reader.overlap = dt.timedelta(0)  # type: ignore[attr-defined]
        return connector

    monkeypatch.setattr("servefirst.sync.service.open_connector", without_overlap)
    running = start_sandbox(workdir=tmp_path / "hubspot", seed="demo")
    try:
        yield running
    finally:
        running.stop()


def cli(sandbox: RunningSandbox, *args: str) -> tuple[int, Any]:
    """Run a servefirst command in-process; parse its JSON output when it has one."""
    result = CliRunner().invoke(app, [*args, "-c", str(sandbox.config_path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert sandbox.token not in result.output  # stdout and stderr: never a secret
    doc = json.loads(result.stdout) if "--json" in args else {}
    return result.exit_code, doc


def client(sandbox: RunningSandbox) -> Any:
    return hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)


def open_task_keys(sandbox: RunningSandbox) -> list[str]:
    """Keys of every open servefirst task in the portal, duplicates included."""
    api = client(sandbox).crm.objects.tasks.basic_api
    keys: list[str] = []
    after = None
    while True:
        page = api.get_page(
            limit=100, after=after, properties=["servefirst_task_key", "hs_task_status"]
        )
        for task in page.results:
            props = task.properties
            if props.get("servefirst_task_key") and props.get("hs_task_status") != "COMPLETED":
                keys.append(props["servefirst_task_key"])
        if page.paging is None or page.paging.next is None:
            return keys
        after = page.paging.next.after


def expected_task_keys(sandbox: RunningSandbox, as_of: dt.date = TODAY) -> set[str]:
    """What the playbook wants open now, from a full dry run (which writes nothing)."""
    code, doc = cli(sandbox, "sync", "--full", "--dry-run", "--json", "--as-of", str(as_of))
    assert code == 0, doc
    return {
        f"servefirst:{e['id']}:{f['rule']}"
        for e in doc["engagements"]
        for f in e["findings"]
        if f["rule"] in TASK_RULES
    }


def assert_one_open_task_per_violation(sandbox: RunningSandbox, as_of: dt.date = TODAY) -> None:
    keys = open_task_keys(sandbox)
    duplicates = {k: n for k, n in Counter(keys).items() if n > 1}
    assert duplicates == {}
    assert set(keys) == expected_task_keys(sandbox, as_of)


def test_provision_sync_rep_edit_sync_then_nothing_to_do(sandbox: RunningSandbox) -> None:
    assert cli(sandbox, "provision")[0] == 0
    code, first = cli(sandbox, "sync", "--json")
    assert code == 0, first["errors"]
    assert first["status"] == "ok"
    assert first["counts"]["engagements_read"] >= 40
    assert first["counts"]["tasks_opened"] > 0
    assert_one_open_task_per_violation(sandbox)

    code, second = cli(sandbox, "sync", "--json")
    assert (code, second["api_calls"]["write"], second["counts"]["fields_updated"]) == (0, 0, 0)

    # A rep agrees the Operational Date of one engagement with its sponsor, in HubSpot.
    missing = next(k for k in open_task_keys(sandbox) if k.endswith(":operational_date_missing"))
    deal_id = missing.split(":")[1]
    agreed = TODAY + dt.timedelta(days=400)
    client(sandbox).crm.deals.basic_api.update(
        deal_id, SimplePublicObjectInput(properties={"operational_date": agreed.isoformat()})
    )
    code, fixed = cli(sandbox, "sync", "--json")
    assert code == 0
    assert fixed["counts"]["tasks_closed"] >= 1
    assert missing not in open_task_keys(sandbox)
    assert deal_id in {e["id"] for e in fixed["engagements"]}
    assert_one_open_task_per_violation(sandbox)

    cli(sandbox, "sync", "--json")  # re-reads the records the previous run wrote
    code, quiet = cli(sandbox, "sync", "--json")
    assert code == 0
    assert quiet["counts"]["engagements_read"] == 0
    assert quiet["api_calls"]["write"] == 0
    assert quiet["api_calls"]["total"] <= 2
    state = sandbox.config_path.parent / "servefirst-state.db"
    assert sandbox.token.encode() not in state.read_bytes()


def test_kill_9_in_the_middle_of_a_run_then_run_again(sandbox: RunningSandbox) -> None:
    assert cli(sandbox, "provision")[0] == 0
    admin = sandbox.admin
    admin.reset_stats()
    # Slow task creation down so that the kill lands between two task batches.
    admin.inject("latency", count=100, latency_ms=700, path_prefix="/crm/v3/objects/tasks")
    exe = Path(sys.executable).parent / "servefirst"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    proc = subprocess.Popen(
        [str(exe), "sync", "-c", str(sandbox.config_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            writes = admin.stats()["by_endpoint"]
            if writes.get("POST objects/deals/batch/update") and any(
                "tasks" in name and "create" in name for name in writes
            ):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the run never reached its task writes: {admin.stats()}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    admin.clear_faults()
    partial_keys = open_task_keys(sandbox)

    code, rerun = cli(sandbox, "sync", "--json")
    assert code == 0, rerun["errors"]
    assert rerun["counts"]["engagements_read"] >= 40  # the killed run never moved the watermark
    assert_one_open_task_per_violation(sandbox)
    assert set(partial_keys) <= set(open_task_keys(sandbox))
    code, runs = cli(sandbox, "runs", "list", "--json")
    statuses = [r["status"] for r in runs]
    assert statuses[-1] == "interrupted"  # the killed one, found by the next start


def test_a_run_under_injected_faults_converges(sandbox: RunningSandbox) -> None:
    assert cli(sandbox, "provision")[0] == 0
    sandbox.admin.random_faults(0.15, 7, [{"kind": "status", "status": 503}, {"kind": "reset"}])
    code, faulted = cli(sandbox, "sync", "--json")
    sandbox.admin.clear_faults()
    assert code in (0, 1), faulted["errors"]
    code, clean = cli(sandbox, "sync", "--json")
    assert code == 0, clean["errors"]
    assert_one_open_task_per_violation(sandbox)


def test_the_clock_passing_an_operational_date_reaches_the_crm_without_a_full_scan(
    sandbox: RunningSandbox,
) -> None:
    assert cli(sandbox, "provision")[0] == 0
    code, first = cli(sandbox, "sync", "--json")
    assert code == 0
    cli(sandbox, "sync", "--json")  # settle: re-read our own writes
    total = first["counts"]["engagements_read"]

    # The open engagement whose Operational Date comes next, with no edit from anyone.
    dates = client(sandbox).crm.deals.basic_api.get_page(
        limit=100, properties=["operational_date", "dealstage"]
    )
    upcoming = sorted(
        (dt.date.fromisoformat(d.properties["operational_date"]), d.id)
        for d in dates.results
        if d.properties.get("operational_date")
        and dt.date.fromisoformat(d.properties["operational_date"]) >= TODAY
        and d.id in {e["id"] for e in first["engagements"] if e["health"] is not None}
        and not any(
            f["rule"] == "operational_date_past"
            for e in first["engagements"]
            if e["id"] == d.id
            for f in e["findings"]
        )
    )
    assert upcoming, "the demo portal has open engagements with a future Operational Date"
    when, deal_id = upcoming[0]
    later = when + dt.timedelta(days=1)

    code, moved = cli(sandbox, "sync", "--json", "--as-of", later.isoformat())
    assert code == 0, moved["errors"]
    assert moved["counts"]["engagements_read"] < total  # not a full scan: the key-date ranges
    evaluated = {e["id"]: e for e in moved["engagements"]}
    assert deal_id in evaluated
    assert "operational_date_past" in {f["rule"] for f in evaluated[deal_id]["findings"]}
    assert f"servefirst:{deal_id}:operational_date_past" in open_task_keys(sandbox)
    assert_one_open_task_per_violation(sandbox, later)


def test_sigterm_lets_the_running_scheduled_sync_finish(sandbox: RunningSandbox) -> None:
    assert cli(sandbox, "provision")[0] == 0
    admin = sandbox.admin
    admin.reset_stats()
    admin.inject("latency", count=3, latency_ms=1500, path_prefix="/crm/v3/objects/deals/search")
    exe = Path(sys.executable).parent / "servefirst"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    log = sandbox.config_path.parent / "run.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [str(exe), "run", "-c", str(sandbox.config_path)], env=env, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while not admin.stats()["by_endpoint"].get("POST objects/deals/search"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # while the first sync waits on its search
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code, runs = cli(sandbox, "runs", "list", "--json")
    assert code == 0
    (run,) = runs
    assert run["status"] == "ok"  # finished, not interrupted
    assert run["counts"]["tasks_opened"] > 0
    assert "scheduler_stopped" in log.read_text()
