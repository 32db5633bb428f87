"""One sync run of one connection: pull, evaluate, diff, apply, record, batch by batch.

The engine holds at most one batch of engagements in memory: it streams the connector's pull,
and for each batch evaluates, plans, applies and commits that batch's history and key dates
before reading on. The watermark moves once the whole run has been through (records the CRM
refused go to the retry set instead of holding it back), and it moves to the CRM's own clock as
of the pull's first response, so anything edited while the run was going is read again next
time whatever this machine's clock says. Replaying a batch is harmless: field writes are
recomputed from scratch and task writes are upserts on a deterministic key.
"""

from __future__ import annotations

import logging
import time

from servefirst.connectors.base import Connector
from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.sync.engine.options import (
    DEFAULT_BATCH_SIZE,
    Evaluate,
    ProgressCallback,
    SyncOptions,
)
from servefirst.sync.engine.report import FailureKind, RunReport, failure_kind
from servefirst.sync.engine.steps import RunSteps
from servefirst.sync.engine.stop import RunStopped, StopRequest
from servefirst.sync.logs import log_event
from servefirst.sync.state.records import RunStatus
from servefirst.sync.state.store import StateStore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Evaluate",
    "ProgressCallback",
    "SyncOptions",
    "mark_failed",
    "run_sync",
    "start_report",
]

log = logging.getLogger("servefirst.sync.engine")


def start_report(
    store: StateStore,
    connection: str,
    crm: str,
    options: SyncOptions,
    run_id: int | None = None,
) -> RunReport:
    """The report of a run, opening its history row unless the caller already did.

    A run is recorded before anything can fail, so even a connector that never opens leaves a
    row saying why; the service and ``run_sync`` both start runs this way.
    """
    if run_id is None:
        run_id = store.start_run(
            connection, crm, options.as_of, dry_run=options.dry_run, full_scan=options.full
        )
    return RunReport(
        run_id=run_id,
        connection=connection,
        crm=crm,
        dry_run=options.dry_run,
        full_scan=options.full,
        as_of=options.as_of,
    )


def run_sync(
    connector: Connector,
    playbook: Playbook,
    store: StateStore,
    connection: str,
    options: SyncOptions,
    *,
    on_progress: ProgressCallback | None = None,
    evaluator: Evaluate = evaluate,
    run_id: int | None = None,
    stop: StopRequest | None = None,
) -> RunReport:
    """Run one sync of ``connection`` and return its report; never raises for a failed run.

    A failure (config, auth, budget, CRM unreachable, or a bug) ends the run with status
    ``failed``, its message in the report and the history, and the watermark untouched.
    Per-record refusals end it ``partial``. ``run_id`` lets a caller that opened the run row
    itself (to record failures that happen before a connector exists) hand it over. ``stop``
    ends the run after the batch in progress (status ``interrupted``, watermark unmoved).
    """
    started = time.monotonic()
    report = start_report(store, connection, connector.crm, options, run_id)
    calls_before = connector.api_calls
    read0, write0 = calls_before.read, calls_before.write
    try:
        RunSteps(
            connector=connector,
            playbook=playbook,
            store=store,
            report=report,
            options=options,
            on_progress=on_progress,
            evaluate=evaluator,
            stop=stop or StopRequest(),
        ).execute()
    except RunStopped as exc:
        report.status = RunStatus.INTERRUPTED
        report.error_message = str(exc)
        log_event(log, logging.WARNING, "sync_stopped", connection=connection, reason=str(exc))
    except Exception as exc:
        mark_failed(report, exc)
    except BaseException:  # Ctrl-C or interpreter shutdown: record it, then let it propagate
        report.status = RunStatus.INTERRUPTED
        report.error_message = "interrupted before it finished"
        _finish(store, report, connector, read0=read0, write0=write0, started=started)
        raise
    _finish(store, report, connector, read0=read0, write0=write0, started=started)
    return report


def mark_failed(report: RunReport, exc: Exception) -> None:
    """Mark the run failed; a bug (not a ServeFirstError) is logged with its traceback.

    Shared with the service, which records a connector that failed to open the same way.
    """
    report.status = RunStatus.FAILED
    report.failure = failure_kind(exc)
    report.error_message = str(exc) or exc.__class__.__name__
    log_event(
        log,
        logging.ERROR,
        "sync_failed",
        connection=report.connection,
        run_id=report.run_id,
        error=report.error_message,
        kind=report.failure.value,
    )
    if report.failure is FailureKind.UNEXPECTED:
        log.exception("unexpected error in sync run %s", report.run_id)


def _finish(
    store: StateStore,
    report: RunReport,
    connector: Connector,
    *,
    read0: int,
    write0: int,
    started: float,
) -> None:
    calls = connector.api_calls
    report.totals.api_calls_read = calls.read - read0
    report.totals.api_calls_write = calls.write - write0
    report.duration_seconds = time.monotonic() - started
    store.finish_run(
        report.run_id,
        status=report.status,
        totals=report.totals,
        duration_seconds=report.duration_seconds,
        error_message=report.error_message,
        full_scan=report.full_scan,
    )
    log_event(
        log,
        logging.INFO,
        "sync_finished",
        connection=report.connection,
        run_id=report.run_id,
        status=report.status.value,
        **report.totals.counts(),
        api_read=report.totals.api_calls_read,
        api_write=report.totals.api_calls_write,
        seconds=round(report.duration_seconds, 3),
    )
