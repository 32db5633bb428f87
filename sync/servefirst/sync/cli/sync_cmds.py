"""``provision``, ``sync``, ``runs list|show`` and ``run``: servefirst against a live CRM.

Output contract: ``sync --json`` prints exactly one JSON document on stdout and nothing else
(progress and logs go to stderr), so scripts can pipe it; exit codes follow ``Exit``.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    AllOption,
    ConfigOption,
    ConnectionOption,
    config_errors,
    connection_names,
    console,
    err_console,
    fail,
    load,
    parse_date,
)
from servefirst.sync.cli.output import SyncProgress, Verbosity, plain, setup_logging, state

if TYPE_CHECKING:
    from servefirst.config.settings import Settings
    from servefirst.playbook.definition import Playbook
    from servefirst.sync.engine import RunReport
    from servefirst.sync.engine.run import ProgressCallback, SyncOptions
    from servefirst.sync.engine.stop import StopRequest
    from servefirst.sync.state import LeaseHeldError, RetryBackoff, RunRecord

runs_app = typer.Typer(no_args_is_help=True, help="Read the sync history.")


class Backend(StrEnum):
    """Where ``servefirst run`` runs each scheduled sync."""

    EMBEDDED = "embedded"
    DRAMATIQ = "dramatiq"


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


def waiting(wait: bool, timeout: int) -> dt.timedelta | None:
    return dt.timedelta(seconds=timeout) if wait else None


def lease_held(exc: LeaseHeldError, wait: bool) -> NoReturn:
    """Exit 3 with the one line that names who holds the connection and since when."""
    hint = "; it did not finish in time" if wait else "; add --wait to wait for it"
    fail(f"{exc}{hint}", Exit.FAILED)


@contextmanager
def _stop_on_sigterm() -> Iterator[StopRequest]:
    """SIGTERM ends the sync after the batch in progress (``interrupted``, watermark unmoved)."""
    from servefirst.sync.engine.stop import StopRequest  # noqa: PLC0415

    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach the main thread only: whoever runs this thread handles them
        return

    def handle(_signum: int, _frame: object) -> None:
        stop.request("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(report: RunReport) -> Exit:
    """The documented exit code of a finished run."""
    from servefirst.sync.engine import FailureKind  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.state import RunStatus  # noqa: PLC0415

    if report.status in (RunStatus.OK, RunStatus.DRY_RUN):
        return Exit.OK
    if report.status is RunStatus.PARTIAL:
        return Exit.RECORD_ERRORS
    if report.failure is FailureKind.CONFIG:
        return Exit.USAGE
    return Exit.FAILED


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """Counts on stderr while a long run streams, when a person is watching (see SyncProgress)."""
    if not enabled or state.verbosity is Verbosity.QUIET:
        yield None
        return
    progress = SyncProgress(err_console)
    try:
        yield progress
    finally:
        progress.close()


@app.command()
def provision(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    dry_run: DryRunOption = False,
    every: AllOption = False,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600,
) -> None:
    """Create the playbook's fields, stages and labels in the CRM (idempotent)."""
    from servefirst.config.loader import load_playbook  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.playbook.errors import ServeFirstError  # noqa: PLC0415
    from servefirst.sync.cli.sync_render import render_provision  # noqa: PLC0415
    from servefirst.sync.service import provision_connection  # noqa: PLC0415
    from servefirst.sync.state import LeaseHeldError  # noqa: PLC0415

    settings, _ = load(config)
    setup_logging(settings.log_level)
    for name in connection_names(settings, connection, every):
        try:
            with config_errors():
                playbook = load_playbook(settings, name)
                _, report = provision_connection(
                    settings, playbook, name, dry_run=dry_run, wait=waiting(wait, wait_timeout)
                )
        except LeaseHeldError as exc:
            lease_held(exc, wait)
        except ServeFirstError as exc:
            fail(f"provisioning {name} failed: {exc}", Exit.FAILED)
        render_provision(console, name, report, dry_run=dry_run)


@app.command()
def sync(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    every: AllOption = False,
    dry_run: DryRunOption = False,
    full: Annotated[bool, typer.Option("--full", help="Read every engagement.")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate as of YYYY-MM-DD (default today).")
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON document instead of the summary (with --all, a list of them).",
        ),
    ] = False,
    diff_file: Annotated[
        Path | None,
        typer.Option("--diff-file", help="Write the plan as JSON lines here.", dir_okay=False),
    ] = None,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600,
) -> None:
    """Sync one connection, or each in turn with --all: write back only what changed.

    A real sync runs as of today in the connection's timezone; another day (``--as-of``) is
    for trying things out and needs ``--dry-run``, because writing that day's findings would
    move the watermark's date past crossings the next real run must still see.
    """
    from servefirst.sync.engine.run import SyncOptions  # noqa: PLC0415 - keeps `--help` fast

    asked = None if as_of is None else parse_date(as_of)
    if diff_file is not None and not diff_file.parent.is_dir():
        fail(f"--diff-file {diff_file}: folder {diff_file.parent} does not exist", Exit.USAGE)
    settings, _ = load(config)
    names = connection_names(settings, connection, every)
    if diff_file is not None and len(names) > 1:
        fail("--diff-file takes one connection: drop --all or pick one", Exit.USAGE)
    days = {name: _day(settings, name, asked, dry_run=dry_run) for name in names}
    interactive = sys.stderr.isatty()
    setup_logging(settings.log_level, interactive=interactive)
    patience = waiting(wait, wait_timeout)
    from servefirst.sync.state import LeaseHeldError  # noqa: PLC0415

    reports: list[RunReport] = []
    busy: list[dict[str, str]] = []
    for name in names:
        options = SyncOptions(as_of=days[name], dry_run=dry_run, full=full, diff_file=diff_file)
        try:
            reports.append(
                _sync_one(settings, name, options, interactive=interactive, wait=patience)
            )
        except LeaseHeldError as exc:
            if len(names) == 1:
                lease_held(exc, patience is not None)
            # --all: another process syncing one connection must not stop the others.
            busy.append({"connection": name, "status": "busy", "error": str(exc)})
            err_console.print("error: ", style="bold red", end="")
            err_console.print(plain(f"{exc}; skipped, the other connections carry on"))
    if json_output:
        documents = [r.to_json() for r in reports] + busy
        sys.stdout.write(json.dumps(documents if every else documents[0]) + "\n")
    else:
        from servefirst.sync.cli.sync_render import render_sync  # noqa: PLC0415

        for report in reports:
            render_sync(console, report)
            if report.error_message:
                err_console.print("error: ", style="bold red", end="")
                err_console.print(plain(report.error_message))
    codes = [exit_code(r) for r in reports] + [Exit.FAILED] * len(busy)
    raise typer.Exit(int(max(codes)))


def _day(settings: Settings, name: str, asked: dt.date | None, *, dry_run: bool) -> dt.date:
    """The date connection ``name`` runs as of: today in its timezone, or ``asked`` on a dry run."""
    from servefirst.sync.clock import connection_zone, today_in  # noqa: PLC0415

    with config_errors():
        today = today_in(connection_zone(name, settings.connections[name]))
    if asked is None or asked == today:
        return today
    if not dry_run:
        fail(
            f"--as-of {asked.isoformat()} is not today ({today.isoformat()} for connection "
            f"{name}): add --dry-run to see that day's findings without writing them",
            Exit.USAGE,
        )
    return asked


def _sync_one(
    settings: Settings,
    name: str,
    options: SyncOptions,
    *,
    interactive: bool,
    wait: dt.timedelta | None,
) -> RunReport:
    """One connection's run with its own playbook; every failure is in the report.

    Raises ``LeaseHeldError`` when another run holds the connection (after ``wait``).
    """
    from servefirst.config.loader import load_playbook  # noqa: PLC0415
    from servefirst.sync.service import sync_connection  # noqa: PLC0415

    try:
        with config_errors(), _progress(interactive) as on_progress, _stop_on_sigterm() as stop:
            playbook: Playbook = load_playbook(settings, name)
            return sync_connection(
                settings, playbook, name, options, on_progress=on_progress, wait=wait, stop=stop
            )
    except KeyboardInterrupt:
        fail("interrupted: the run is recorded as such and the next one resumes", Exit.FAILED)


@runs_app.command("list")
def runs_list(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    json_output: TablesJsonOption = False,
) -> None:
    """The latest sync runs, newest first."""
    from servefirst.config.loader import load_settings  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.cli.sync_render import render_runs  # noqa: PLC0415
    from servefirst.sync.service import opened_store  # noqa: PLC0415

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
    engagement: Annotated[
        str | None,
        typer.Option(
            "--engagement",
            help="Only the changes of this engagement (its id, or part of its name).",
        ),
    ] = None,
    json_output: TablesJsonOption = False,
) -> None:
    """One run: its counts, API calls, error, and its changes with before and after."""
    from servefirst.config.loader import load_settings  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.cli.sync_render import render_retry, render_run  # noqa: PLC0415
    from servefirst.sync.engine.report import retry_json  # noqa: PLC0415
    from servefirst.sync.service import opened_store  # noqa: PLC0415

    with config_errors():
        settings = load_settings(config)
        with opened_store(settings) as store:
            row = store.get_run(run_id)
            if row is None:
                fail(f"no run {run_id} in the history; see `servefirst runs list`", Exit.USAGE)
            ids = None
            if engagement is not None:
                ids = store.snapshots.find(row.connection, engagement)
                if not ids:
                    fail(
                        f"no engagement of connection {row.connection!r} has the id or a name "
                        f"containing {engagement!r}",
                        Exit.USAGE,
                    )
            listed = store.get_changes(run_id, limit=changes, record_ids=ids)
            retry = store.retry_entries(row.connection, _backoff(settings, row.connection))
    if json_output:
        data = _run_json(row)
        data["retry_set"] = [retry_json(entry) for entry in retry]
        data["changes"] = [
            {
                "record_id": c.record_id,
                "engagement": c.engagement_name,
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
    from servefirst.sync.state import RetryBackoff  # noqa: PLC0415

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
        "kind": row.kind,
        "reverts_run_id": row.reverts_run_id,
    }


@app.command()
def run(
    config: ConfigOption = None,
    backend: Annotated[
        Backend,
        typer.Option(
            help="embedded: run each sync in this process; dramatiq: only enqueue it for "
            "`servefirst worker` processes (needs the scale extra and a [scale] broker)."
        ),
    ] = Backend.EMBEDDED,
) -> None:
    """Run every connection's sync on its schedule until stopped (SIGTERM or Ctrl-C)."""
    from servefirst.config.loader import config_path, load_settings  # noqa: PLC0415
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415
    from servefirst.sync.scheduler import serve  # noqa: PLC0415

    if backend is Backend.DRAMATIQ:
        from servefirst.sync.cli.scale_cmds import require_scale_extra  # noqa: PLC0415

        require_scale_extra("run --backend dramatiq")
    with config_errors():
        settings = load_settings(config)
    # A scheduler is read through its logs, in a terminal too.
    setup_logging(settings.log_level, interactive=False)
    path = config_path(config).resolve()
    try:
        serve(settings, path, backend=backend.value)
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)
