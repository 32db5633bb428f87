"""``servefirst health``: what a systemd or container health check runs against the state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from servefirst.config.settings import Schedule
from servefirst.playbook.errors import AuthError
from servefirst.playbook.model import Engagement
from servefirst.sync.cli import app
from servefirst.sync.cli.health_cmds import max_age, verdict
from servefirst.sync.connectors import ConnectionSettings
from servefirst.sync.state import RunRecord, RunStatus, RunTotals

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

runner = CliRunner()
Make = Callable[..., Engagement]
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


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

    def connect(name: str, conn: ConnectionSettings, playbook: object, base_dir: Path) -> object:
        return fake

    monkeypatch.setattr("servefirst.sync.service.open_connector", connect)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_health_follows_the_newest_real_run(config: Path, fake: FakeConnector) -> None:
    code, out = invoke("health", "-c", str(config))
    assert code == 1
    assert "no sync has run yet" in out
    assert invoke("sync", "-c", str(config), "--json")[0] == 0
    code, out = invoke("health", "-c", str(config))
    assert (code, out.split(",")[0]) == (0, "acme: ok")
    fake.pull_error = AuthError("the token was refused", connection="acme")
    invoke("sync", "-c", str(config), "--json")
    code, out = invoke("health", "-c", str(config))
    assert code == 1
    assert "failed: the token was refused" in out
    fake.pull_error = None
    invoke("sync", "-c", str(config), "--json", "--dry-run")
    assert invoke("health", "-c", str(config))[0] == 1  # a dry run proves nothing
    assert invoke("-q", "health", "-c", str(config)) == (1, "")


def _run(started: dt.datetime, status: RunStatus = RunStatus.OK) -> RunRecord:
    return RunRecord(
        id=7, connection="acme", crm="hubspot", started_at=started, finished_at=started,
        as_of=started.date(), status=status, dry_run=False, full_scan=False, totals=RunTotals(),
        duration_seconds=1.0, error_message=None, host="h", pid=1,
    )  # fmt: skip


def test_a_stale_run_is_unhealthy_after_three_intervals() -> None:
    allowed = max_age(Schedule(interval_minutes=15), None)
    assert allowed == dt.timedelta(minutes=45)
    assert verdict(_run(NOW - dt.timedelta(minutes=44)), allowed, NOW) is None
    stale = verdict(_run(NOW - dt.timedelta(minutes=46)), allowed, NOW)
    assert stale is not None and "46 min ago" in stale
    assert max_age(Schedule(cron="0 2 * * *"), None) == dt.timedelta(hours=25)
    assert max_age(Schedule(cron="0 2 * * *"), 90) == dt.timedelta(minutes=90)
    assert verdict(_run(NOW, RunStatus.PARTIAL), allowed, NOW) is None
