"""What a worker does with each message: the same service calls as the CLI, under the lease.

Messages carry only a connection name (or a run id) and when the work was asked for; the
worker reads its own config (``servefirst worker -c FILE``), so secrets never travel through
the broker. A message is idempotent: a sync asked for at time T is done once any sync of that
connection has *started* after T and finished, whoever ran it. So a message delivered twice
(a worker killed before it acknowledged), or a scheduler tick while a manual run goes on,
costs at most one extra look at the history, never a second run in parallel.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.playbook.errors import ConfigError
from servefirst.sync.clock import connection_zone, today_in
from servefirst.sync.engine.report import FailureKind
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.engine.stop import StopRequest
from servefirst.sync.logs import log_event
from servefirst.sync.service import opened_store, provision_connection, sync_connection
from servefirst.sync.state import LeaseHeldError, RunStatus, StateStore

log = logging.getLogger("servefirst.sync.scale")

#: Failures worth another attempt later: the CRM, the network or the day's API budget may be
#: back by then (a refused login is retried too, then dead-lettered). A bad config or a bug
#: stays bad: those go straight to the dead-letter queue.
RETRYABLE_FAILURES = frozenset({FailureKind.FATAL, FailureKind.BUDGET})

_config: Path | None = None
_active: set[StopRequest] = set()
_lock = threading.Lock()


class RetryLaterError(Exception):
    """The work could not be done now (lease held, CRM unreachable): Dramatiq retries it."""


def use_config(path: Path) -> None:
    """Name the config file this worker process reads for every message."""
    global _config  # noqa: PLW0603 - one config per worker process, set once at start
    _config = path


def worker_settings() -> Settings:
    if _config is None:
        raise ConfigError("this worker has no config: start it with `servefirst worker -c FILE`")
    return load_settings(_config)


def stop_all(reason: str) -> None:
    """Ask every run of this process to stop after its current batch (worker shutdown)."""
    with _lock:
        for stop in _active:
            stop.request(reason)


@contextmanager
def _stoppable() -> Iterator[StopRequest]:
    stop = StopRequest()
    with _lock:
        _active.add(stop)
    try:
        yield stop
    finally:
        with _lock:
            _active.discard(stop)


def retry_when(max_retries: int) -> Callable[[int, BaseException], bool]:
    """Dramatiq's retry predicate: only ``RetryLaterError``, at most ``max_retries`` times."""

    def should_retry(retries: int, exception: BaseException) -> bool:
        return isinstance(exception, RetryLaterError) and retries < max_retries

    return should_retry


def covered(store: StateStore, connection: str, requested_at: dt.datetime) -> bool:
    """Whether a sync of ``connection`` started after ``requested_at`` and finished."""
    for run in store.list_runs(connection, limit=20):
        if run.started_at < requested_at:
            return False
        if (
            run.kind == "sync"
            and not run.dry_run
            and run.status in (RunStatus.OK, RunStatus.PARTIAL)
        ):
            return True
    return False


def sync_job(connection: str, requested_at: str) -> str:
    """One sync of ``connection`` as of its own today, unless one has run since the request."""
    settings = worker_settings()
    requested = dt.datetime.fromisoformat(requested_at)
    with opened_store(settings) as store:
        if covered(store, connection, requested):
            log_event(log, logging.INFO, "sync_covered", connection=connection)
            return "covered"
    name, conn = settings.connection(connection)
    playbook = load_playbook(settings, name)
    options = SyncOptions(as_of=today_in(connection_zone(name, conn)), keep_engagements=False)
    with _stoppable() as stop:
        try:
            report = sync_connection(settings, playbook, name, options, stop=stop)
        except LeaseHeldError as exc:
            if exc.lease.acquired_at >= requested:
                log_event(log, logging.INFO, "sync_covered", connection=connection)
                return "covered"  # the run going on started after the request
            raise RetryLaterError(str(exc)) from None
    if report.status is RunStatus.INTERRUPTED:
        raise RetryLaterError(report.error_message or "interrupted")
    if report.status is RunStatus.FAILED:
        if report.failure in RETRYABLE_FAILURES:
            raise RetryLaterError(report.error_message or "the run failed")
        raise ConfigError(report.error_message or "the run failed")
    return report.status.value


def provision_job(connection: str) -> str:
    """Provision ``connection`` (idempotent: a second delivery finds nothing to change)."""
    settings = worker_settings()
    name, _ = settings.connection(connection)
    playbook = load_playbook(settings, name)
    try:
        _, report = provision_connection(settings, playbook, name, dry_run=False)
    except LeaseHeldError as exc:
        raise RetryLaterError(str(exc)) from None
    return f"{len(report.changes)} changes"


def revert_job(run_id: int) -> str:
    """Revert run ``run_id``; restoring only what still holds that run's value is idempotent."""
    from servefirst.sync.revert import revert_run  # noqa: PLC0415 - report stack, on demand

    settings = worker_settings()
    with opened_store(settings) as store:
        target = store.get_run(run_id)
    if target is None:
        raise ConfigError(f"no run {run_id} in the history")
    playbook = load_playbook(settings, target.connection)
    as_of = today_in(connection_zone(target.connection, settings.connections[target.connection]))
    try:
        report = revert_run(settings, playbook, run_id, dry_run=False, as_of=as_of)
    except LeaseHeldError as exc:
        raise RetryLaterError(str(exc)) from None
    if report.run.status is RunStatus.FAILED:
        raise RetryLaterError(report.run.error_message or "the revert failed")
    return report.run.status.value
