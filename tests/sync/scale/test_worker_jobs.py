"""Queued runs through Dramatiq's in-memory broker, against a real sandbox CRM.

The broker is Dramatiq's ``StubBroker`` (no Redis needed) but everything behind it is real:
the actors, the retry policy, the dead-letter recorder, the lease in the state database, the
sync engine and the HubSpot sandbox reached through hubspot-api-client. The Redis and
PostgreSQL side (a worker killed mid-sync) is in ``test_worker_crash``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from typer.testing import CliRunner

from servefirst.config.loader import load_settings
from servefirst.config.settings import ScaleSettings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.cli import app
from servefirst.sync.scale.broker import Actors, declare_actors
from servefirst.sync.scale.deadletter import DeadLetterRecorder
from servefirst.sync.scale.jobs import use_config
from servefirst.sync.state import RunStatus, StateStore

SCALE = ScaleSettings(max_retries=2, min_backoff_seconds=0.01, max_backoff_seconds=0.05)


@pytest.fixture
def actors(sandbox: RunningSandbox) -> Iterator[Actors]:
    use_config(sandbox.config_path)
    broker = StubBroker()
    broker.add_middleware(DeadLetterRecorder())
    broker.emit_after("process_boot")
    declared = declare_actors(broker, SCALE)
    worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        yield declared
    finally:
        worker.stop()
        broker.close()


def _drain(actors: Actors) -> None:
    assert isinstance(actors.broker, StubBroker)
    actors.broker.join(SCALE.namespace, fail_fast=False)


def _runs(sandbox: RunningSandbox) -> list[tuple[str, str]]:
    settings = load_settings(sandbox.config_path)
    store = StateStore.open(settings.resolve_state_url())
    try:
        rows = store.list_runs(limit=50)
    finally:
        store.close()
    return [(r.status.value, r.error_message or "") for r in reversed(rows)]


def _connection(sandbox: RunningSandbox) -> str:
    return next(iter(load_settings(sandbox.config_path).connections))


def test_a_queued_sync_runs_once_even_when_its_message_comes_twice(
    actors: Actors, sandbox: RunningSandbox
) -> None:
    requested = dt.datetime.now(dt.UTC).isoformat()
    name = _connection(sandbox)
    actors.sync.send(name, requested)
    _drain(actors)
    sandbox.admin.reset_stats()
    actors.sync.send(name, requested)  # redelivered: a sync has run since it was asked for
    _drain(actors)

    assert [status for status, _ in _runs(sandbox)] == ["ok"]
    assert sandbox.admin.stats()["total"] == 0  # the duplicate never reached the CRM


def test_a_later_request_runs_again(actors: Actors, sandbox: RunningSandbox) -> None:
    name = _connection(sandbox)
    actors.sync.send(name, dt.datetime.now(dt.UTC).isoformat())
    _drain(actors)
    actors.sync.send(name, dt.datetime.now(dt.UTC).isoformat())
    _drain(actors)

    assert [status for status, _ in _runs(sandbox)] == ["ok", "ok"]


def test_a_held_lease_delays_the_run_until_it_is_free(
    actors: Actors, sandbox: RunningSandbox
) -> None:
    name = _connection(sandbox)
    settings = load_settings(sandbox.config_path)
    store = StateStore.open(settings.resolve_state_url())
    lease = store.acquire_lease(name, ttl=dt.timedelta(minutes=5))  # a live run elsewhere
    retried: list[int] = []

    class FreeAfterFirstRetry(dramatiq.Middleware):
        def after_process_message(
            self,
            broker: dramatiq.Broker,
            message: dramatiq.MessageProxy,
            *,
            result: object = None,
            exception: BaseException | None = None,
        ) -> None:
            del broker, message, result
            if exception is not None:
                retried.append(1)
                store.release_lease(lease)

    actors.broker.add_middleware(FreeAfterFirstRetry())
    actors.sync.send(name, dt.datetime.now(dt.UTC).isoformat())
    _drain(actors)
    store.close()

    assert retried == [1]  # refused once while held, never run alongside
    assert [status for status, _ in _runs(sandbox)] == ["ok"]


def test_a_message_that_keeps_failing_lands_in_the_dead_letters_and_the_history(
    actors: Actors, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _connection(sandbox)
    # Each attempt fails at once instead of riding out the connector's own backoff first.
    monkeypatch.setenv(f"SERVEFIRST_CONNECTIONS__{name.upper()}__MAX_RETRIES", "0")
    sandbox.admin.inject("status", count=1000, status=503)  # the CRM is down all along
    actors.sync.send(name, dt.datetime.now(dt.UTC).isoformat())
    _drain(actors)
    # The worker records the dead letter right after rejecting the message, which is what
    # lets the queue's join() return: give that last write a moment.
    deadline = time.monotonic() + 10
    while len(_runs(sandbox)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    sandbox.admin.clear_faults()

    runs = _runs(sandbox)
    assert [status for status, _ in runs] == ["failed"] * 3 + [RunStatus.DEAD_LETTER.value]
    assert "gave up after 3 attempts (dead-letter queue)" in runs[-1][1]
    assert isinstance(actors.broker, StubBroker)
    assert len(actors.broker.dead_letters) == 1
    listed = CliRunner().invoke(app, ["runs", "list", "-c", str(sandbox.config_path)])
    assert listed.exit_code == 0
    assert "dead_letter" in listed.output
    assert "gave up after 3 attempts" in " ".join(listed.output.split())
