"""``servefirst run --backend dramatiq``: the scheduler enqueues, a worker runs, over real Redis."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dramatiq
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from servefirst.config.loader import load_settings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.scale.broker import declare_actors, make_broker
from servefirst.sync.scale.enqueue import enqueue_scheduled_sync
from servefirst.sync.scale.jobs import use_config
from servefirst.sync.scheduler import ENQUEUE_FUNC, JOB_FUNC, build_scheduler
from servefirst.sync.state import StateStore


def _jobs(sandbox: RunningSandbox, backend: str) -> list[str]:
    settings = load_settings(sandbox.config_path)
    scheduler = build_scheduler(
        settings, sandbox.config_path, scheduler_class=BackgroundScheduler, backend=backend
    )
    return [job.func_ref for job in scheduler.get_jobs()]


def test_the_dramatiq_backend_schedules_enqueues_and_switching_back_replaces_them(
    sandbox: RunningSandbox,
) -> None:
    assert _jobs(sandbox, "dramatiq") == [ENQUEUE_FUNC]
    assert _jobs(sandbox, "embedded") == [JOB_FUNC]


@pytest.mark.redis
def test_a_scheduled_tick_is_queued_in_redis_and_a_worker_runs_it(
    sandbox: RunningSandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis  # noqa: PLC0415

    client = redis.Redis.from_url(redis_url)
    namespace = f"sf-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SERVEFIRST_SCALE__BROKER_URL", redis_url)
    monkeypatch.setenv("SERVEFIRST_SCALE__NAMESPACE", namespace)
    settings = load_settings(sandbox.config_path)
    name = next(iter(settings.connections))

    message_id = enqueue_scheduled_sync(str(sandbox.config_path), name)

    assert message_id
    assert client.llen(f"{namespace}:{namespace}") == 1  # queued, not run by the scheduler
    store = StateStore.open(settings.resolve_state_url())
    try:
        assert store.list_runs(name) == []
        use_config(sandbox.config_path)
        broker = make_broker(settings.scale)
        declare_actors(broker, settings.scale)
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while not [r for r in store.list_runs(name) if r.finished_at is not None]:
                assert time.monotonic() < deadline, "the worker never ran the queued sync"
                time.sleep(0.2)
        finally:
            worker.stop()
            broker.close()
        runs = store.list_runs(name)
    finally:
        store.close()
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        client.close()
    assert [r.status.value for r in runs] == ["ok"]
    assert runs[0].started_at <= dt.datetime.now(dt.UTC)
