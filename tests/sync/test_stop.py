"""Stopping cleanly: SIGTERM between batches, a newer state schema, private files."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from servefirst.config.loader import load_settings
from servefirst.connectors.sandboxkit.files import write_config
from servefirst.sync.cli import app
from servefirst.sync.state import RunStatus, StateStore, schema

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
REPO = Path(__file__).resolve().parents[2]
CONFIG = '[connections.acme]\ncrm = "hubspot"\ntoken = { env = "ACME_HS_TOKEN" }\n'

#: ``servefirst sync`` on the in-memory CRM, 30 engagements in batches of 10, pausing inside the
#: second batch's write until a line arrives on stdin. argv: config path.
SYNC_CHILD = """
import sys
from functools import partial
from tests.sync.conftest import FakeConnector, T0, engagement
import servefirst.sync.clock as clock
import servefirst.sync.engine.run as run
import servefirst.sync.service as service
from servefirst.sync.cli import main

fake = FakeConnector()
for i in range(30):
    fake.add(engagement(f"E{i:02d}", sponsor=False))
writes = []

def pause_in_batch_two(crm):
    writes.append(1)
    if len(writes) == 2:
        print("applying batch 2", file=sys.stderr, flush=True)
        sys.stdin.readline()

fake.before_write = pause_in_batch_two
service.open_connector = lambda *args: fake
clock.today_in = lambda zone: T0
run.SyncOptions = partial(run.SyncOptions, batch_size=10)
sys.argv = ["servefirst", "sync", "-c", sys.argv[1], "--json"]
main()
"""


def test_sigterm_stops_after_the_batch_in_progress(tmp_path: Path) -> None:
    config = tmp_path / "servefirst.toml"
    config.write_text(CONFIG, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", SYNC_CHILD, str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "SERVEFIRST_LOG_LEVEL": "warning"},
    )
    assert proc.stdin is not None and proc.stderr is not None
    line = proc.stderr.readline()
    while line and "applying batch 2" not in line:
        line = proc.stderr.readline()
    assert line, "the sync never reached its second batch"
    proc.send_signal(signal.SIGTERM)  # while batch 2 is being written
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 3, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted"
    assert "SIGTERM" in doc["errors"][-1]["message"]
    assert doc["counts"]["engagements_read"] == 20  # batch 2 finished; batch 3 never read
    assert doc["counts"]["tasks_opened"] == 20
    store = StateStore.open(load_settings(config).resolve_state_url())
    try:
        (run,) = store.list_runs("acme")
        assert run.status is RunStatus.INTERRUPTED
        written = {c.record_id for c in store.get_changes(run.id) if c.ok}
        assert written == {f"E{i:02d}" for i in range(20)}  # both batches recorded
        assert store.get_watermark("acme") is None  # unmoved
        assert store.get_lease("acme") is None  # released
    finally:
        store.close()


def test_a_state_database_from_a_newer_servefirst_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "servefirst.toml"
    config.write_text(CONFIG, encoding="utf-8")
    url = load_settings(config).resolve_state_url()
    store = StateStore.open(url)
    with store.engine.begin() as conn:
        conn.execute(
            insert(schema.schema_version).values(
                version=len(schema.MIGRATIONS) + 1,
                description="from the future",
                applied_at=dt.datetime.now(dt.UTC),
            )
        )
    store.close()

    result = CliRunner().invoke(app, ["runs", "list", "-c", str(config)])
    assert result.exit_code == 2
    assert "newer servefirst" in result.stderr
    assert "upgrade servefirst" in result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which files are world-readable unless created private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
def test_state_plans_and_configs_are_private(
    tmp_path: Path, fake: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = tmp_path / "new"
    result = CliRunner().invoke(app, ["init", str(new)])
    assert result.exit_code == 0, result.output
    assert _mode(new / "servefirst.toml") == _mode(new / "playbook.yaml") == 0o600

    config = tmp_path / "servefirst.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setattr("servefirst.sync.service.open_connector", lambda *_args: fake)
    monkeypatch.setattr("servefirst.sync.clock.today_in", lambda _zone: T0)
    plan = tmp_path / "plan.jsonl"
    plan.write_text("", encoding="utf-8")  # an existing, world-readable file is narrowed too
    args = ["sync", "-c", str(config), "--dry-run", "--diff-file", str(plan)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert _mode(plan) == 0o600
    assert _mode(tmp_path / ".servefirst" / "state.db") == 0o600
    assert _mode(tmp_path / ".servefirst") == 0o700

    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    assert _mode(write_config(sandbox, ["a sandbox"], ["[connections.x]"])) == 0o600
