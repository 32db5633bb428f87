"""``servefirst runs revert RUN_ID``: undo what one run wrote, where nobody changed it since."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from servefirst.sync.cli.common import ConfigOption, config_errors, console, err_console, load
from servefirst.sync.cli.output import plain
from servefirst.sync.cli.sync_cmds import (
    DryRunOption,
    WaitOption,
    WaitTimeoutOption,
    exit_code,
    lease_held,
    runs_app,
    waiting,
)

if TYPE_CHECKING:
    from servefirst.sync.engine.revert import RevertReport

_WHAT = {
    "field": "",
    "task_open": "task opened: ",
    "task_reopen": "task reopened: ",
    "task_close": "task closed: ",
    "task_update": "task reworded: ",
}


def revert_json(out: RevertReport) -> dict[str, object]:
    """The revert as one JSON document: its run's summary and what it left alone."""
    doc = out.run.to_json()
    doc.pop("engagements", None)
    doc["reverts_run_id"] = out.reverted_run_id
    doc["left_alone"] = [
        {
            "record_id": item.record_id,
            "engagement": out.names.get(item.record_id),
            "kind": item.kind,
            "name": item.name,
            "reason": item.reason,
            "current": item.current,
            "wanted": item.wanted,
        }
        for item in out.left_alone
    ]
    return doc


def _render(out: RevertReport) -> None:
    run = out.run
    totals = run.totals
    verb = "would restore" if run.dry_run else "restored"
    console.print(
        plain(
            f"Revert of run {out.reverted_run_id} · run {run.run_id} · {run.status.value} · "
            f"{verb} {totals.fields_updated} field(s) on {totals.records_updated} engagement(s); "
            f"tasks: {totals.tasks_closed} closed, {totals.tasks_reopened + totals.tasks_opened} "
            f"reopened, {totals.tasks_updated} reworded back"
        )
    )
    if out.left_alone:
        table = Table(title="Left alone", title_justify="left")
        for column in ("Engagement", "Change", "Why"):
            table.add_column(column, overflow="fold")
        for item in out.left_alone:
            name = out.names.get(item.record_id)
            who = f"{name}\n{item.record_id}" if name else item.record_id
            table.add_row(plain(who), plain(_WHAT[item.kind] + item.name), plain(item.reason))
        console.print(table)
    for problem in run.errors:
        err_console.print(plain(f"{problem.record_id}: {problem.message}"))
    if run.error_message:
        err_console.print(plain(f"error: {run.error_message}"))
    console.print(plain(f"Every change, before and after: servefirst runs show {run.run_id}"))


@runs_app.command("revert")
def runs_revert(
    run_id: Annotated[int, typer.Argument(help="The run to undo (see `servefirst runs list`).")],
    config: ConfigOption = None,
    dry_run: DryRunOption = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of the summary.")
    ] = False,
    wait: WaitOption = False,
    wait_timeout: WaitTimeoutOption = 600,
) -> None:
    """Undo a run: restore the fields it wrote and reopen or close its tasks.

    Only where the CRM still holds what that run wrote: a later change is kept, and listed.
    The revert is recorded as a run of its own, so it can be reverted too.
    """
    import datetime as dt  # noqa: PLC0415

    from servefirst.sync.revert import revert_run  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.state import LeaseHeldError  # noqa: PLC0415

    settings, playbook = load(config)
    try:
        with config_errors():
            today = dt.datetime.now(dt.UTC).date()
            out = revert_run(
                settings,
                playbook,
                run_id,
                dry_run=dry_run,
                as_of=today,
                wait=waiting(wait, wait_timeout),
            )
    except LeaseHeldError as exc:
        lease_held(exc, wait)
    if json_output:
        sys.stdout.write(json.dumps(revert_json(out), default=str) + "\n")
    else:
        _render(out)
    raise typer.Exit(int(exit_code(out.run)))
