"""``servefirst run``: jobs from the config, persistent schedules, failures that do not stop it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from servefirst.config.loader import load_settings
from servefirst.config.settings import Schedule
from servefirst.playbook.errors import AuthError, ConfigError
from servefirst.playbook.model import Engagement
from servefirst.sync.lease import held_lease
from servefirst.sync.scheduler import JOB_FUNC, build_scheduler, run_scheduled_sync, trigger_for
from servefirst.sync.state import RunStatus, StateStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sync.conftest import FakeConnector

TWO = """
[connections.acme]
crm = "hubspot"
token = { env = "ACME_HS_TOKEN" }
schedule = { interval_minutes = 15, misfire_grace_seconds = 600 }

[connections.globex]
crm = "hubspot"
token = { env = "GLOBEX_HS_TOKEN" }
schedule = { cron = "*/5 8-18 * * mon-fri", timezone = "Europe/Paris", misfire_grace_seconds = 120 }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "servefirst.toml"
    path.write_text(text, encoding="utf-8")
    return path


def build(path: Path) -> BackgroundScheduler:
    scheduler = build_scheduler(load_settings(path), path, scheduler_class=BackgroundScheduler)
    assert isinstance(scheduler, BackgroundScheduler)
    scheduler.start(paused=True)
    return scheduler


def test_one_job_per_connection_with_its_schedule(tmp_path: Path) -> None:
    path = write(tmp_path, TWO)
    before = dt.datetime.now(dt.UTC)
    scheduler = build(path)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"acme", "globex"}
        acme, globex = jobs["acme"], jobs["globex"]
        assert isinstance(acme.trigger, IntervalTrigger)
        assert acme.trigger.interval == dt.timedelta(minutes=15)
        assert isinstance(globex.trigger, CronTrigger)
        assert str(globex.trigger.timezone) == "Europe/Paris"
        assert (acme.misfire_grace_time, globex.misfire_grace_time) == (600, 120)
        for name, job in jobs.items():
            assert job.func_ref == JOB_FUNC
            assert job.args == (str(path), name)
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.next_run_time >= before  # a new job runs on start
            assert job.next_run_time <= dt.datetime.now(dt.UTC)
    finally:
        scheduler.shutdown(wait=False)


def test_schedules_survive_a_restart_and_follow_config_edits(tmp_path: Path) -> None:
    path = write(tmp_path, TWO)
    planned = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.UTC)
    first = build(path)
    first.modify_job("acme", next_run_time=planned)
    first.modify_job("globex", next_run_time=planned)
    first.shutdown(wait=False)

    again = build(path)
    try:
        assert {j.id: j.next_run_time for j in again.get_jobs()} == {
            "acme": planned,
            "globex": planned,
        }
    finally:
        again.shutdown(wait=False)

    edited = TWO.replace("interval_minutes = 15", "interval_minutes = 30")
    edited = edited[: edited.index("[connections.globex]")]
    write(tmp_path, edited)
    third = build(path)
    try:
        (job,) = third.get_jobs()
        assert job.id == "acme"
        assert job.trigger.interval == dt.timedelta(minutes=30)
        assert job.next_run_time < planned  # the schedule changed: runs now
    finally:
        third.shutdown(wait=False)


def test_bad_schedule_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        trigger_for("acme", Schedule(interval_minutes=5, timezone="Mars/Olympus"))
    with pytest.raises(ConfigError, match="acme"):
        trigger_for("acme", Schedule(cron="61 * * * *"))


@pytest.fixture
def one(tmp_path: Path) -> Path:
    return write(tmp_path, TWO[: TWO.index("[connections.globex]")])


def test_the_job_records_a_failed_run_and_does_not_raise(
    one: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object) -> object:
        raise AuthError("token refused by the portal", connection="acme")

    monkeypatch.setattr("servefirst.sync.service.open_connector", refuse)
    assert run_scheduled_sync(str(one), "acme") == "failed"
    store = StateStore.open(load_settings(one).resolve_state_url())
    (row,) = store.list_runs("acme")
    store.close()
    assert row.status is RunStatus.FAILED
    assert "token refused" in (row.error_message or "")


def test_the_job_survives_a_broken_config(tmp_path: Path) -> None:
    assert run_scheduled_sync(str(tmp_path / "gone.toml"), "acme") == "failed"


def test_the_job_syncs(
    one: Path, fake: FakeConnector, make: Callable[..., Engagement], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add(make("E1", sponsor=False))
    monkeypatch.setattr("servefirst.sync.service.open_connector", lambda *_a: fake)
    assert run_scheduled_sync(str(one), "acme") == "ok"
    assert "sponsor_missing" in {t.rule for t in fake.open_tasks()}  # evaluated as of today


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_job_syncs_as_of_today_in_the_connections_timezone(
    tmp_path: Path, fake: FakeConnector, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    """UTC+14 and UTC-11: at any hour, one of them is on another calendar day than UTC."""
    path = write(tmp_path, TWO[: TWO.index("[connections.globex]")] + f'timezone = "{zone}"\n')
    monkeypatch.setattr("servefirst.sync.service.open_connector", lambda *_a: fake)
    expected = dt.datetime.now(ZoneInfo(zone)).date()
    assert run_scheduled_sync(str(path), "acme") == "ok"
    store = StateStore.open(load_settings(path).resolve_state_url())
    (row,) = store.list_runs("acme")
    store.close()
    assert row.as_of == expected or row.as_of == dt.datetime.now(ZoneInfo(zone)).date()
    scheduler = build(path)
    try:
        (job,) = scheduler.get_jobs()
        assert str(job.trigger.timezone) == zone  # the schedule follows the connection's zone
    finally:
        scheduler.shutdown(wait=False)


def test_the_job_skips_a_connection_another_process_is_syncing(
    one: Path, fake: FakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("servefirst.sync.service.open_connector", lambda *_a: fake)
    store = StateStore.open(load_settings(one).resolve_state_url())
    try:
        with held_lease(store, "acme"):
            assert run_scheduled_sync(str(one), "acme") == "skipped"
    finally:
        store.close()
    assert fake.windows == []
    assert run_scheduled_sync(str(one), "acme") == "ok"


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_servefirst_run_keeps_going_after_a_failed_run_and_stops_on_sigterm(one: Path) -> None:
    log = one.parent / "run.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    env.pop("ACME_HS_TOKEN", None)  # the first run fails: the scheduler must stay up
    exe = Path(sys.executable).parent / "servefirst"
    with log.open("w") as stderr:
        proc = subprocess.Popen([str(exe), "run", "-c", str(one)], stderr=stderr, env=env)
    try:
        url = load_settings(one).resolve_state_url()

        def failed_run_recorded() -> bool:
            if not (one.parent / ".servefirst" / "state.db").exists():
                return False
            store = StateStore.open(url)
            try:
                return any(r.status is RunStatus.FAILED for r in store.list_runs("acme"))
            finally:
                store.close()

        assert _wait_for(failed_run_recorded, 20), log.read_text()
        time.sleep(0.3)
        assert proc.poll() is None, "a failed run must not stop the scheduler"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "scheduler_started" in text
    assert "sync_failed" in text
    assert "scheduler_stopped" in text
