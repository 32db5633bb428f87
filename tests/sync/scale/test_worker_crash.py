"""A worker killed with SIGKILL mid-sync: real Redis, real PostgreSQL, real worker processes.

Worker A takes a queued sync and is killed while the CRM holds one of its task writes (the
write then lands with nobody to read the reply). Worker B receives the same message once the
broker notices A is gone, takes the dead holder's lease over, and finishes. The history says
``interrupted`` then ``ok``, no task exists twice, and a full scan afterwards finds nothing
left to write.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import hubspot
import pytest

from servefirst.config.loader import load_settings
from servefirst.connectors.hubspot.sandbox.launch import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.state import StateStore

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

POSTGRES = os.environ.get(
    "SERVEFIRST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SERVEFIRST = str(Path(sys.executable).with_name("servefirst"))


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    import psycopg  # noqa: PLC0415

    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    name = f"servefirst_crash_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc}")
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def big_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """Enough deals for several task batches, so the worker can die between two of them."""
    running = start_sandbox(
        workdir=tmp_path / "crm",
        seed="demo",
        engagements=400,
        rate_limits=False,
        search_lag_seconds=0.0,
    )
    try:
        yield running
    finally:
        running.stop()


def _env(state_url: str, namespace: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    env.update(
        SERVEFIRST_STATE_URL=state_url,
        SERVEFIRST_SCALE__BROKER_URL=redis_url,
        SERVEFIRST_SCALE__NAMESPACE=namespace,
        SERVEFIRST_SCALE__REDELIVERY_SECONDS="3",
        SERVEFIRST_SCALE__MIN_BACKOFF_SECONDS="0.2",
        SERVEFIRST_SCALE__MAX_BACKOFF_SECONDS="1",
    )
    return env


def _wait(what: str, done: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.2)


def _statuses(state_url: str) -> list[str]:
    store = StateStore.open(state_url)
    try:
        return [r.status.value for r in reversed(store.list_runs(limit=20))]
    finally:
        store.close()


def _open_task_keys(sandbox: RunningSandbox) -> list[str]:
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
    api = client.crm.objects.tasks.basic_api
    keys: list[str] = []
    after = None
    while True:
        page = api.get_page(
            limit=100, after=after, properties=["servefirst_task_key", "hs_task_status"]
        )
        keys += [
            t.properties["servefirst_task_key"]
            for t in page.results
            if t.properties.get("servefirst_task_key")
            and t.properties.get("hs_task_status") != "COMPLETED"
        ]
        if page.paging is None or page.paging.next is None:
            api.api_client.rest_client.pool_manager.clear()
            return keys
        after = page.paging.next.after


def test_a_worker_killed_mid_sync_leaves_nothing_lost_and_nothing_twice(
    big_sandbox: RunningSandbox, database: str, redis_url: str, tmp_path: Path
) -> None:
    sandbox = big_sandbox
    env = _env(database, f"sf-crash-{uuid.uuid4().hex[:8]}", redis_url)
    config = str(sandbox.config_path)
    logs = tmp_path / "logs"
    logs.mkdir()

    def worker(name: str) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as out:  # the child keeps its own descriptor
            return subprocess.Popen(
                [SERVEFIRST, "worker", "-c", config, "--threads", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    # Hold the second batch of task creates: worker A dies while the CRM is writing them.
    sandbox.admin.hold(
        after=2, path_prefix="/crm/v3/objects/tasks/batch/create", timeout_seconds=60
    )
    first = worker("a")
    try:
        queued = subprocess.run(
            [SERVEFIRST, "enqueue", "-c", config],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert queued.returncode == 0, queued.stderr
        _wait("worker A is inside its task writes", sandbox.admin.holding)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    sandbox.admin.release()  # the held write lands; its reply goes nowhere

    second = worker("b")
    try:
        _wait("worker B finished the redelivered sync", lambda: "ok" in _statuses(database))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)

    assert _statuses(database) == ["interrupted", "ok"], (logs / "b.log").read_text()
    keys = _open_task_keys(sandbox)
    twice = [key for key, n in collections.Counter(keys).items() if n > 1]
    assert keys and not twice
    check = subprocess.run(
        [SERVEFIRST, "sync", "-c", config, "--full", "--dry-run", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = json.loads(check.stdout)
    counts = summary["counts"]
    assert (counts["fields_updated"], counts["tasks_opened"], counts["tasks_closed"]) == (0, 0, 0)
    assert load_settings(sandbox.config_path).connections  # the sandbox's config was used
