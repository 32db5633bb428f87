"""One run per connection, across processes: the lease, its heartbeat, expiry and takeover."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from servefirst.config.loader import load_settings
from servefirst.playbook.model import Engagement
from servefirst.sync.cli import app
from servefirst.sync.lease import held_lease
from servefirst.sync.state import LeaseHeldError, LeaseLostError, RunStatus, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=60)
REPO = Path(__file__).resolve().parents[2]
SERVEFIRST = Path(sys.executable).parent / "servefirst"

#: A process that takes the lease of ``acme`` (and opens a run under it), says so, and holds it
#: until its stdin closes. argv: state URL.
HOLDER = """
import sys
from servefirst.sync.lease import held_lease
from servefirst.sync.state import LeaseHeldError, StateStore
import datetime as dt
store = StateStore.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    with held_lease(store, "acme") as held:
        run_id = store.start_run("acme", "fake", dt.date(2026, 3, 2), dry_run=False, full_scan=True)
        held.attach_run(run_id)
        print(f"won {run_id}", flush=True)
        sys.stdin.read()
except LeaseHeldError:
    print("held", flush=True)
store.close()
"""


def holder(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def go(proc: subprocess.Popen[str]) -> str:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


def finish(proc: subprocess.Popen[str]) -> None:
    """Close the holder's stdin (it releases and exits) and its pipes."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    code = proc.wait(timeout=60)
    proc.stdout.close()
    assert code in (0, -signal.SIGKILL)


def test_one_holder_at_a_time(any_store: StateStore) -> None:
    lease = any_store.acquire_lease("acme", ttl=TTL, now=NOW)
    with pytest.raises(LeaseHeldError) as held:
        any_store.acquire_lease("acme", ttl=TTL, now=NOW + dt.timedelta(seconds=30))
    message = str(held.value)
    assert f"process {os.getpid()} on {socket.gethostname()}" in message
    assert "since 2026-03-02 09:00:00 UTC" in message
    assert any_store.acquire_lease("globex", ttl=TTL, now=NOW).connection == "globex"
    any_store.release_lease(lease)
    assert any_store.get_lease("acme") is None
    assert any_store.acquire_lease("acme", ttl=TTL, now=NOW).holder != lease.holder


def test_heartbeats_keep_it_and_expiry_hands_it_over(any_store: StateStore) -> None:
    old = any_store.acquire_lease("acme", ttl=TTL, now=NOW)
    run_id = any_store.start_run("acme", "fake", T0, dry_run=False, full_scan=True)
    old = any_store.attach_run(old, run_id)
    later = NOW + dt.timedelta(seconds=50)
    old = any_store.heartbeat_lease(old, ttl=TTL, now=later)
    with pytest.raises(LeaseHeldError):  # the first expiry has passed, the heartbeat counts
        any_store.acquire_lease("acme", ttl=TTL, now=NOW + dt.timedelta(seconds=90))

    silent = later + TTL + dt.timedelta(seconds=1)  # the holder stopped heartbeating
    new = any_store.acquire_lease("acme", ttl=TTL, now=silent)
    row = any_store.get_run(run_id)
    assert row is not None
    assert row.status is RunStatus.INTERRUPTED
    assert "taken over" in (row.error_message or "")
    with pytest.raises(LeaseLostError):
        any_store.heartbeat_lease(old, ttl=TTL, now=silent)
    any_store.release_lease(old)  # a late release by the old holder changes nothing
    lease = any_store.get_lease("acme")
    assert lease is not None
    assert lease.holder == new.holder


def test_a_lost_lease_asks_the_run_to_stop(store: StateStore) -> None:
    with held_lease(store, "acme", ttl=dt.timedelta(hours=1)) as held:
        held.beat()
        assert not held.stop.requested
        far = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        store.acquire_lease("acme", ttl=TTL, now=far)  # another host took it over
        held.beat()
        assert held.stop.requested
        assert "taken over" in held.stop.reason


def test_processes_racing_for_one_connection_one_wins(state_url: str) -> None:
    StateStore.open(state_url).close()  # migrate once, so the race is about the lease
    procs = [holder(state_url) for _ in range(4)]
    try:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [p.stdout.readline().strip() for p in procs if p.stdout is not None]
    finally:
        for proc in procs:
            finish(proc)
    assert sorted(r.split()[0] for r in results) == ["held", "held", "held", "won"], results


def test_a_killed_holder_is_taken_over_and_its_run_marked_interrupted(state_url: str) -> None:
    proc = holder(state_url)
    won = go(proc)
    assert won.startswith("won"), won
    run_id = int(won.split()[1])
    store = StateStore.open(state_url)
    try:
        with pytest.raises(LeaseHeldError, match=f"process {proc.pid} on"):
            store.acquire_lease("acme", ttl=TTL)
        proc.send_signal(signal.SIGKILL)
        finish(proc)
        lease = store.acquire_lease("acme", ttl=TTL)  # at once: its pid is gone on this host
        row = store.get_run(run_id)
        assert row is not None
        assert row.status is RunStatus.INTERRUPTED
        store.release_lease(lease)
    finally:
        store.close()


@pytest.fixture
def config(tmp_path: Path, fake: FakeConnector, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "servefirst.toml"
    path.write_text(
        '[connections.acme]\ncrm = "hubspot"\ntoken = { env = "ACME_HS_TOKEN" }\n',
        encoding="utf-8",
    )
    monkeypatch.setattr("servefirst.sync.service.open_connector", lambda *_args: fake)
    monkeypatch.setattr("servefirst.sync.clock.today_in", lambda _zone: T0)
    return path


def test_sync_in_another_process_exits_3_in_one_line_naming_the_holder(config: Path) -> None:
    url = load_settings(config).resolve_state_url()
    StateStore.open(url).close()
    proc = holder(url)
    try:
        assert go(proc).startswith("won")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
        done = subprocess.run(
            [str(SERVEFIRST), "sync", "-c", str(config), "--json"],
            capture_output=True,
            text=True,
            env={**env, "ACME_HS_TOKEN": "unused"},
            timeout=120,
            check=False,
        )
    finally:
        finish(proc)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"already being synced by process {proc.pid} on {socket.gethostname()} since" in line


def test_wait_runs_once_the_holder_is_done(
    config: Path, fake: FakeConnector, make: Callable[..., Engagement]
) -> None:
    fake.add(make("E1", sponsor=False))
    url = load_settings(config).resolve_state_url()
    StateStore.open(url).close()
    proc = holder(url)
    assert go(proc).startswith("won")
    releaser = threading.Timer(0.5, finish, args=(proc,))
    releaser.start()
    try:
        result = CliRunner().invoke(
            app, ["sync", "-c", str(config), "--json", "--wait", "--wait-timeout", "120"]
        )
    finally:
        releaser.join()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["tasks_opened"] == 1


def test_a_revert_takes_the_lease_too(
    config: Path, fake: FakeConnector, make: Callable[..., Engagement]
) -> None:
    fake.add(make("E1", sponsor=False))
    done = CliRunner().invoke(app, ["sync", "-c", str(config), "--json"])
    run_id = json.loads(done.stdout)["run_id"]
    store = StateStore.open(load_settings(config).resolve_state_url())
    try:
        with held_lease(store, "acme"):
            result = CliRunner().invoke(app, ["runs", "revert", str(run_id), "-c", str(config)])
    finally:
        store.close()
    assert result.exit_code == 3, result.output
    assert "already being synced by process" in result.stderr
    assert len(fake.plans) == 1  # the revert wrote nothing


def test_wait_gives_up_after_its_timeout(config: Path) -> None:
    store = StateStore.open(load_settings(config).resolve_state_url())
    try:
        with held_lease(store, "acme"):
            args = ["sync", "-c", str(config), "--wait", "--wait-timeout", "1"]
            result = CliRunner().invoke(app, args)
    finally:
        store.close()
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert "already being synced" in line
    assert "did not finish in time" in line
