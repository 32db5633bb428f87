"""Runs as the CLI and the scheduler start them: settings in, a recorded report out.

Opening the connector happens *inside* the recorded run, so a connection whose secret is
missing or whose token is refused still leaves a ``failed`` row in the history with the reason,
which is what someone looking at a silent scheduler needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from servefirst.config.settings import Settings
from servefirst.connectors.base import Connector, ProvisionReport
from servefirst.playbook.definition import Playbook
from servefirst.sync.alerts import send_alert
from servefirst.sync.connectors import ConnectionSettings, open_connector
from servefirst.sync.engine.report import RunReport
from servefirst.sync.engine.run import (
    ProgressCallback,
    SyncOptions,
    mark_failed,
    run_sync,
    start_report,
)
from servefirst.sync.engine.stop import StopRequest
from servefirst.sync.lease import held_lease
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


#: The settings that decide how CRM records map onto engagements: a change to any of them can
#: change findings of records nobody touched, so it forces a full scan.
MAPPING_SETTINGS = frozenset(
    {"stage_map", "fields", "sponsor_role", "sponsor_label", "pipeline", "property_group"}
)
#: The connectors' own incremental overlap, when the settings leave it unset.
DEFAULT_OVERLAP = dt.timedelta(minutes=5)


def mapping_digest(conn: ConnectionSettings) -> str:
    """A digest of the connection's mapping settings (see ``MAPPING_SETTINGS``)."""
    mapping = conn.model_dump(mode="json", include=set(MAPPING_SETTINGS))
    return hashlib.sha256(json.dumps(mapping, sort_keys=True).encode()).hexdigest()


def connection_options(options: SyncOptions, conn: ConnectionSettings) -> SyncOptions:
    """The caller's options completed from the connection's settings."""
    overlap = conn.incremental_overlap_seconds
    changes: dict[str, object] = {
        "mapping_digest": mapping_digest(conn),
        "retry": replace(options.retry, stuck_after=conn.retry_stuck_after),
        "skew_tolerance": DEFAULT_OVERLAP if overlap is None else dt.timedelta(seconds=overlap),
    }
    if options.full_scan_every is None and conn.full_scan_every_hours is not None:
        changes["full_scan_every"] = dt.timedelta(hours=conn.full_scan_every_hours)
    return replace(options, **changes)  # type: ignore[arg-type]


def sync_connection(
    settings: Settings,
    playbook: Playbook,
    connection: str | None,
    options: SyncOptions,
    *,
    on_progress: ProgressCallback | None = None,
    wait: dt.timedelta | None = None,
    stop: StopRequest | None = None,
) -> RunReport:
    """Sync one configured connection (the only one when ``connection`` is ``None``).

    The run holds the connection's lease throughout: ``LeaseHeldError`` (naming the holder)
    when another run has it, after waiting up to ``wait`` for it. Raises ``ConfigError`` only
    when the connection cannot be chosen or the state database cannot be opened (there is
    nowhere to record anything then); every later failure is in the returned report (status
    ``failed``) and in the history. ``stop`` ends the run after its current batch.
    """
    name, conn = settings.connection(connection)
    options = connection_options(options, conn)
    report = _recorded_run(settings, playbook, name, options, on_progress, wait=wait, stop=stop)
    send_alert(report, conn, settings.base_dir)
    return report


def _recorded_run(
    settings: Settings,
    playbook: Playbook,
    name: str,
    options: SyncOptions,
    on_progress: ProgressCallback | None,
    *,
    wait: dt.timedelta | None,
    stop: StopRequest | None,
) -> RunReport:
    conn = settings.connections[name]
    with opened_store(settings) as store, held_lease(store, name, wait=wait, stop=stop) as held:
        report = start_report(store, name, conn.crm, options)
        held.attach_run(report.run_id)
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
                    stop=held.stop,
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
    settings: Settings,
    playbook: Playbook,
    connection: str | None,
    *,
    dry_run: bool,
    wait: dt.timedelta | None = None,
) -> tuple[str, ProvisionReport]:
    """Drive one connection's provisioning under its lease; errors propagate to the CLI.

    Provisioning changes fields and stages a running sync reads and writes, so it takes the
    same lease (a dry run reads only, and takes none).
    """
    name, _ = settings.connection(connection)
    if dry_run:
        with opened_connector(settings, playbook, name) as connector:
            return name, connector.provision(playbook, dry_run=True)
    with (
        opened_store(settings) as store,
        held_lease(store, name, wait=wait),
        opened_connector(settings, playbook, name) as connector,
    ):
        return name, connector.provision(playbook, dry_run=False)
