"""``provision``, ``sync``, ``runs list|show`` and ``run``: servefirst against a live CRM.

Output contract: ``sync --json`` prints exactly one JSON document on stdout and nothing else
(progress and logs go to stderr), so scripts can pipe it; exit codes follow ``Exit``.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from servefirst.config.loader import config_path, load_settings
from servefirst.config.settings import Settings
from servefirst.playbook.errors import ConfigError, ServeFirstError
from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    ConfigOption,
    ConnectionOption,
    config_errors,
    console,
    err_console,
    fail,
    load,
    parse_date,
)
from servefirst.sync.cli.sync_render import (
    render_provision,
    render_retry,
    render_run,
    render_runs,
    render_sync,
)
from servefirst.sync.clock import connection_zone, today_in
from servefirst.sync.engine import FailureKind, RunReport, SyncOptions
from servefirst.sync.engine.report import retry_json
from servefirst.sync.engine.run import ProgressCallback
from servefirst.sync.engine.stop import StopRequest
from servefirst.sync.logs import configure_logging
from servefirst.sync.scheduler import serve
from servefirst.sync.service import opened_store, provision_connection, sync_connection
from servefirst.sync.state import LeaseHeldError, RetryBackoff, RunRecord, RunStatus, RunTotals

runs_app = typer.Typer(no_args_is_help=True, help="Read the sync history.")
app.add_typer(runs_app, name="runs")

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Compute everything, write nothing to the CRM.")
]

#: ``--json`` of the history commands (``runs list``, ``runs show``), which print tables.
TablesJsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
WaitOption = Annotated[
    bool,
    typer.Option(
        "--wait", help="If another run holds the connection, wait for it instead of exiting 3."
    ),
]
WaitTimeoutOption = Annotated[
    int,
    typer.Option("--wait-timeout", min=1, max=86400, help="With --wait: give up after SECONDS."),
]


@contextmanager
def _stop_on_sigterm() -> Iterator[StopRequest]:
    """SIGTERM ends the sync after the batch in progress (``interrupted``, watermark unmoved)."""
    stop = StopRequest()

    def handle(_signum: int, _frame: object) -> None:
        stop.request("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def _lease_held(exc: LeaseHeldError, wait: bool) -> None:
    hint = "; it did not finish in time" if wait else "; add --wait to wait for it"
    fail(f"{exc}{hint}", Exit.FAILED)


def exit_code(report: RunReport) -> Exit:
    """The documented exit code of a finished run."""
    if report.status in (RunStatus.OK, RunStatus.DRY_RUN):
        return Exit.OK
    if report.status is RunStatus.PARTIAL:
        return Exit.RECORD_ERRORS
    if report.failure is FailureKind.CONFIG:
        return Exit.USAGE
    return Exit.FAILED


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A Rich progress line on stderr while a run streams, when a person is watching."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("Syncing: reading engagements", total=None)

        def update(totals: RunTotals) -> None:
            progress.update(
                task,
                description=(
                    f"Syncing: {totals.engagements_read} engagements read, "
                    f"{totals.fields_updated} fields written, {totals.tasks_opened} tasks opened, "
                    f"{totals.tasks_closed} closed"
                ),
            )

        yield update


def _logging(settings: Settings, *, interactive: bool) -> None:
    # In a terminal the summary says it all: logs only for warnings (unless debugging).
    level = settings.log_level
    if interactive and level == "info":
        level = "warning"
    configure_logging(level)


@app.command()
def provision(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    dry_run: DryRunOption = False,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600,
) -> None:
    """Create the playbook's fields, stages and labels in the CRM (idempotent)."""
    settings, playbook = load(config)
    _logging(settings, interactive=sys.stderr.isatty())
    waiting = dt.timedelta(seconds=wait_timeout) if wait else None
    try:
        with config_errors():
            name, report = provision_connection(
                settings, playbook, connection, dry_run=dry_run, wait=waiting
            )
    except LeaseHeldError as exc:
        _lease_held(exc, wait)
    except ServeFirstError as exc:
        fail(f"provisioning failed: {exc}", Exit.FAILED)
    render_provision(console, name, report, dry_run=dry_run)


@app.command()
def sync(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    dry_run: DryRunOption = False,
    full: Annotated[bool, typer.Option("--full", help="Read every engagement.")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate as of YYYY-MM-DD (default today).")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of the summary.")
    ] = False,
    diff_file: Annotated[
        Path | None,
        typer.Option("--diff-file", help="Write the plan as JSON lines here.", dir_okay=False),
    ] = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600,
) -> None:
    """Sync one connection: evaluate the playbook and write back only what changed.

    A real sync runs as of today in the connection's timezone; another day (``--as-of``) is
    for trying things out and needs ``--dry-run``, because writing that day's findings would
    move the watermark's date past crossings the next real run must still see.
    """
    if as_of is not None:
        parse_date(as_of)  # a malformed date is a usage error before anything is loaded
    if diff_file is not None and not diff_file.parent.is_dir():
        fail(f"--diff-file {diff_file}: folder {diff_file.parent} does not exist", Exit.USAGE)
    settings, playbook = load(config)
    with config_errors():
        name, conn = settings.connection(connection)
        today = today_in(connection_zone(name, conn))
    date = today if as_of is None else parse_date(as_of)
    if date != today and not dry_run:
        fail(
            f"--as-of {date.isoformat()} is not today ({today.isoformat()} for connection "
            f"{name}): add --dry-run to see that day's findings without writing them",
            Exit.USAGE,
        )
    interactive = sys.stderr.isatty()
    _logging(settings, interactive=interactive)
    options = SyncOptions(as_of=date, dry_run=dry_run, full=full, diff_file=diff_file)
    try:
        with config_errors(), _progress(interactive) as on_progress, _stop_on_sigterm() as stop:
            report = sync_connection(
                settings,
                playbook,
                name,
                options,
                on_progress=on_progress,
                wait=dt.timedelta(seconds=wait_timeout) if wait else None,
                stop=stop,
            )
    except LeaseHeldError as exc:
        _lease_held(exc, wait)
    except KeyboardInterrupt:
        fail("interrupted: the run is recorded as such and the next one resumes", Exit.FAILED)
    if json_output:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        render_sync(console, report)
        if report.error_message:
            err_console.print(
                f"[bold red]error:[/] {escape(report.error_message)}", highlight=False
            )
    raise typer.Exit(int(exit_code(report)))


@runs_app.command("list")
def runs_list(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    json_output: TablesJsonOption = False,
) -> None:
    """The latest sync runs, newest first."""
    with config_errors():
        settings = load_settings(config)
        with opened_store(settings) as store:
            rows = store.list_runs(connection, limit)
    if json_output:
        sys.stdout.write(json.dumps([_run_json(r) for r in rows]) + "\n")
        return
    render_runs(console, rows)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="The run id (see `servefirst runs list`).")],
    config: ConfigOption = None,
    changes: Annotated[int, typer.Option(min=0, help="How many changes to list.")] = 200,
    json_output: TablesJsonOption = False,
) -> None:
    """One run: its counts, API calls, error, and its changes with before and after."""
    with config_errors():
        settings = load_settings(config)
        with opened_store(settings) as store:
            row = store.get_run(run_id)
            listed = store.get_changes(run_id, limit=changes) if row is not None else []
            retry = (
                []
                if row is None
                else store.retry_entries(row.connection, _backoff(settings, row.connection))
            )
    if row is None:
        fail(f"no run {run_id} in the history; see `servefirst runs list`", Exit.USAGE)
    if json_output:
        data = _run_json(row)
        data["retry_set"] = [retry_json(entry) for entry in retry]
        data["changes"] = [
            {
                "record_id": c.record_id,
                "kind": c.kind,
                "name": c.name,
                "task_key": c.task_key,
                "before": c.before,
                "after": c.after,
                "ok": c.ok,
                "message": c.message,
            }
            for c in listed
        ]
        sys.stdout.write(json.dumps(data) + "\n")
        return
    render_run(console, row, listed)
    render_retry(console, retry)


def _backoff(settings: Settings, connection: str) -> RetryBackoff:
    """The retry policy of a connection in the history (the default if no longer configured)."""
    conn = settings.connections.get(connection)
    return RetryBackoff() if conn is None else RetryBackoff(stuck_after=conn.retry_stuck_after)


def _run_json(row: RunRecord) -> dict[str, object]:
    return {
        "run_id": row.id,
        "connection": row.connection,
        "crm": row.crm,
        "status": row.status.value,
        "dry_run": row.dry_run,
        "full_scan": row.full_scan,
        "as_of": row.as_of.isoformat(),
        "started_at": row.started_at.isoformat(),
        "finished_at": None if row.finished_at is None else row.finished_at.isoformat(),
        "duration_seconds": row.duration_seconds,
        "counts": row.totals.counts(),
        "health": row.totals.health(),
        "findings_by_rule": row.totals.findings_by_rule,
        "api_calls": {
            "total": row.totals.api_calls_read + row.totals.api_calls_write,
            "read": row.totals.api_calls_read,
            "write": row.totals.api_calls_write,
        },
        "error": row.error_message,
    }


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run every connection's sync on its schedule until stopped (SIGTERM or Ctrl-C)."""
    with config_errors():
        settings = load_settings(config)
    configure_logging(settings.log_level)
    path = config_path(config).resolve()
    try:
        serve(settings, path)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)
