"""``runs revert`` as the CLI starts it: find the run, open its connection, revert, record.

Like a sync, the revert's own run row is opened before the connector, so a connection that
cannot open still leaves a ``failed`` revert in the history with the reason.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import ExitStack

from servefirst.config.settings import Settings
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.revert import RevertReport, run_revert
from servefirst.sync.engine.run import mark_failed
from servefirst.sync.lease import held_lease
from servefirst.sync.service import opened_connector, opened_store
from servefirst.sync.state import RunRecord, RunStatus, RunTotals, StateStore


def _target(store: StateStore, settings: Settings, run_id: int) -> RunRecord:
    """The run to revert, or a ``ConfigError`` that says why it cannot be."""
    target = store.get_run(run_id)
    if target is None:
        raise ConfigError(f"no run {run_id} in the history; see `servefirst runs list`")
    if target.connection not in settings.connections:
        raise ConfigError(
            f"run {run_id} synced connection {target.connection!r}, which this config no longer has"
        )
    if target.status is RunStatus.RUNNING:
        raise ConfigError(f"run {run_id} is still running: revert it once it has finished")
    if target.dry_run:
        raise ConfigError(f"run {run_id} was a dry run: it wrote nothing, so nothing to revert")
    if not any(c.ok for c in store.get_changes(run_id)):
        raise ConfigError(f"run {run_id} wrote nothing to the CRM: nothing to revert")
    return target


def revert_run(
    settings: Settings,
    playbook: Playbook,
    run_id: int,
    *,
    dry_run: bool,
    as_of: dt.date,
    wait: dt.timedelta | None = None,
) -> RevertReport:
    """Revert run ``run_id`` of whichever configured connection it synced.

    Raises ``ConfigError`` when the run cannot be reverted (unknown, still running, a dry run,
    nothing written), ``LeaseHeldError`` when another run holds the connection after waiting up
    to ``wait`` (a revert writes, so it takes the connection's lease like a sync; a dry run
    only reads and takes none); every later failure is in the returned report and the history.
    """
    with opened_store(settings) as store, ExitStack() as lease:
        target = _target(store, settings, run_id)
        held = (
            None
            if dry_run
            else lease.enter_context(held_lease(store, target.connection, wait=wait))
        )
        crm = settings.connections[target.connection].crm
        own = store.start_run(
            target.connection, crm, as_of, dry_run=dry_run, full_scan=False, reverts_run_id=run_id
        )
        if held is not None:
            held.attach_run(own)  # a takeover of a dead revert marks it interrupted
        started = time.monotonic()
        try:
            with opened_connector(settings, playbook, target.connection) as connector:
                return run_revert(
                    connector, store, target, as_of=as_of, dry_run=dry_run, run_id=own
                )
        except Exception as exc:  # opening or closing the connector failed: record it
            report = RunReport(own, target.connection, crm, dry_run, False, as_of)
            mark_failed(report, exc)
            report.duration_seconds = time.monotonic() - started
            store.finish_run(
                own,
                status=RunStatus.FAILED,
                totals=RunTotals(),
                duration_seconds=report.duration_seconds,
                error_message=report.error_message,
            )
            return RevertReport(report, run_id)
