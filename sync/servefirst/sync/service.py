"""Runs as the CLI and the scheduler start them: settings in, a recorded report out.

Opening the connector happens *inside* the recorded run, so a connection whose secret is
missing or whose token is refused still leaves a ``failed`` row in the history with the reason,
which is what someone looking at a silent scheduler needs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from servefirst.config.settings import Settings
from servefirst.connectors.base import Connector, ProvisionReport
from servefirst.playbook.definition import Playbook
from servefirst.sync.alerts import send_alert
from servefirst.sync.connectors import open_connector
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import (
    ProgressCallback,
    SyncOptions,
    mark_failed,
    run_sync,
    start_report,
)
from servefirst.sync.state import RunStatus, RunTotals, StateStore

log = logging.getLogger("servefirst.sync.service")


@contextmanager
def opened_store(settings: Settings) -> Iterator[StateStore]:
    store = StateStore.open(settings.resolve_state_url())
    try:
        yield store
    finally:
        store.close()


@contextmanager
def opened_connector(settings: Settings, playbook: Playbook, name: str) -> Iterator[Connector]:
    connector = open_connector(name, settings.connections[name], playbook, settings.base_dir)
    try:
        yield connector
    finally:
        try:
            connector.close()
        except Exception:  # a pool that fails to close must not turn a good run into a failure
            log.warning("closing the connector of %s failed", name, exc_info=True)


def sync_connection(
    settings: Settings,
    playbook: Playbook,
    connection: str | None,
    options: SyncOptions,
    *,
    on_progress: ProgressCallback | None = None,
) -> RunReport:
    """Sync one configured connection (the only one when ``connection`` is ``None``).

    Raises ``ConfigError`` only when the connection cannot be chosen or the state database
    cannot be opened (there is nowhere to record anything then); every later failure is in the
    returned report (status ``failed``) and in the history.
    """
    name, conn = settings.connection(connection)
    if options.full_scan_every is None and conn.full_scan_every_hours is not None:
        options = replace(options, full_scan_every=dt.timedelta(hours=conn.full_scan_every_hours))
    report = _recorded_run(settings, playbook, name, options, on_progress)
    send_alert(report, conn, settings.base_dir)
    return report


def _recorded_run(
    settings: Settings,
    playbook: Playbook,
    name: str,
    options: SyncOptions,
    on_progress: ProgressCallback | None,
) -> RunReport:
    conn = settings.connections[name]
    with opened_store(settings) as store:
        report = start_report(store, name, conn.crm, options)
        started = time.monotonic()
        try:
            with opened_connector(settings, playbook, name) as connector:
                return run_sync(
                    connector,
                    playbook,
                    store,
                    name,
                    options,
                    on_progress=on_progress,
                    run_id=report.run_id,
                )
        except Exception as exc:  # opening or closing the connector failed: record it
            mark_failed(report, exc)
            report.duration_seconds = time.monotonic() - started
            store.finish_run(
                report.run_id,
                status=RunStatus.FAILED,
                totals=RunTotals(),
                duration_seconds=report.duration_seconds,
                error_message=report.error_message,
            )
            return report


def provision_connection(
    settings: Settings, playbook: Playbook, connection: str | None, *, dry_run: bool
) -> tuple[str, ProvisionReport]:
    """Drive one connection's provisioning; errors propagate for the CLI to report."""
    name, _ = settings.connection(connection)
    with opened_connector(settings, playbook, name) as connector:
        return name, connector.provision(playbook, dry_run=dry_run)
