"""Rich renderings of provisioning plans, sync summaries and run history, for people."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from servefirst.connectors.base import ProvisionReport
from servefirst.sync.engine import RunReport
from servefirst.sync.state import (
    COUNT_NAMES,
    ChangeRecord,
    RetryEntry,
    RunRecord,
    RunStatus,
    RunTotals,
)

_STATUS_STYLE = {
    RunStatus.OK: "green",
    RunStatus.DRY_RUN: "cyan",
    RunStatus.PARTIAL: "yellow",
    RunStatus.FAILED: "red",
    RunStatus.INTERRUPTED: "red",
    RunStatus.DEAD_LETTER: "red",
    RunStatus.RUNNING: "blue",
}
_MAX_ERRORS = 20


def _status(status: RunStatus) -> str:
    return f"[{_STATUS_STYLE[status]}]{status.value}[/]"


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _totals_table(totals: RunTotals, *, health: bool = True) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name in COUNT_NAMES:
        table.add_row(_label(name), str(getattr(totals, name)))
    if health:
        table.add_row(
            "Health",
            f"[green]{totals.on_track} on track[/] · [yellow]{totals.at_risk} at risk[/] · "
            f"[red]{totals.off_track} off track[/]",
        )
    calls = totals.api_calls_read + totals.api_calls_write
    table.add_row(
        "API calls", f"{calls} ({totals.api_calls_read} read, {totals.api_calls_write} write)"
    )
    return table


def _findings_table(by_rule: dict[str, int]) -> Table:
    table = Table(title="Findings by rule", title_justify="left")
    table.add_column("Rule", overflow="fold")
    table.add_column("Engagements", justify="right")
    for rule, count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(rule, str(count))
    return table


def render_sync(console: Console, report: RunReport) -> None:
    """The readable summary of one sync run."""
    scope = "full scan" if report.full_scan else "incremental"
    console.print(
        f"[bold]Sync {escape(report.connection)}[/] ({report.crm}) · run {report.run_id} · "
        f"as of {report.as_of.isoformat()} · {scope} · {_status(report.status)} · "
        f"{report.duration_seconds:.1f} s",
        highlight=False,
    )
    if report.status is RunStatus.FAILED and not report.totals.engagements_read:
        return  # nothing happened: the error (printed by the caller) says it all
    if report.dry_run:
        console.print("[cyan]Dry run: nothing was written; counts show what would change.[/]")
    console.print(_totals_table(report.totals))
    if report.totals.findings_by_rule:
        console.print(_findings_table(report.totals.findings_by_rule))
    waived = [(e, w) for e in report.engagements for w in e.waived]
    if waived:
        table = Table(title="Waived by a manager", title_justify="left")
        for column in ("Engagement", "Rule", "Until", "Why"):
            # A rule id folds onto the next line rather than being cut into a prefix.
            table.add_column(column, overflow="fold", no_wrap=column == "Until")
        for engagement, waiver in waived[:_MAX_ERRORS]:
            table.add_row(
                escape(engagement.name),
                waiver.rule,
                waiver.until.isoformat(),
                escape(waiver.reason),
            )
        console.print(table)
    if report.errors:
        table = Table(title="Record errors", title_justify="left")
        table.add_column("Record", overflow="fold")
        table.add_column("CRM message", overflow="fold")
        for problem in report.errors[:_MAX_ERRORS]:
            table.add_row(escape(problem.record_id), escape(problem.message))
        console.print(table)
        if len(report.errors) > _MAX_ERRORS:
            more = len(report.errors) - _MAX_ERRORS
            console.print(f"… and {more} more: `servefirst runs show {report.run_id}`")
    render_retry(console, report.retry)


def render_retry(console: Console, entries: list[RetryEntry]) -> None:
    """The records later runs will try again, stuck ones (which need a person) first."""
    if not entries:
        return
    table = Table(title="Records to retry", title_justify="left")
    for column in ("Record", "Attempts", "Next try (UTC)", "CRM message"):
        table.add_column(column, overflow="fold")
    for entry in entries[:_MAX_ERRORS]:
        when = "stuck" if entry.stuck else entry.next_attempt.strftime("%m-%d %H:%M")
        table.add_row(escape(entry.engagement_id), str(entry.attempts), when, escape(entry.reason))
    console.print(table)
    stuck = sum(entry.stuck for entry in entries)
    if stuck:
        console.print(
            f"[yellow]{stuck} record(s) keep being refused: fix them (or the rule refusing "
            "them) in the CRM. They are tried again from time to time, and as soon as they "
            "change.[/]"
        )
    if len(entries) > _MAX_ERRORS:
        console.print(f"… and {len(entries) - _MAX_ERRORS} more (`--json` lists them all)")


def render_provision(
    console: Console, name: str, report: ProvisionReport, *, dry_run: bool
) -> None:
    """The provisioning plan, one step per line and its detail below it.

    Not a table: CRM names such as ``Opportunity.Operational_Date_Slips__c`` are long, and a
    table at 80 columns cut them into ambiguous prefixes. Here a name is always whole.
    """
    console.print(Text(f"Provisioning {name}" + (" (dry run)" if dry_run else ""), style="bold"))
    styles = {"create": "green", "update": "yellow", "manual": "bold red", "none": "dim"}
    kind_width = max((len(s.kind) for s in report.steps), default=0)
    for step in report.steps:
        line = Text("  ")
        line.append(f"{step.action:<7}", style=styles.get(step.action, ""))
        line.append(f" {step.kind:<{kind_width}}  {step.name}")
        console.print(line, overflow="fold")
        if step.detail:
            console.print(Padding(Text(step.detail), (0, 0, 0, 11)), overflow="fold")
    changes = len(report.changes)
    manual = sum(1 for s in report.steps if s.action == "manual")
    verb = "would be made" if dry_run else "made"
    console.print(f"{changes} change(s) {verb}; {manual} step(s) need an administrator.")


def _note(row: RunRecord) -> str:
    """What a person needs to know about a run beyond its counts: its error, or what it undid."""
    if row.error_message and row.status is not RunStatus.OK:
        return f"[red]{escape(row.error_message)}[/]"
    if row.reverts_run_id is not None:
        return f"revert of run {row.reverts_run_id}"
    return ""


def _assessed(row: RunRecord) -> bool:
    """Whether a run got as far as evaluating engagements (a failed start did not)."""
    return row.status not in _STOPPED or row.totals.engagements_read > 0


_STOPPED = (RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.DEAD_LETTER, RunStatus.RUNNING)


def render_runs(console: Console, rows: list[RunRecord]) -> None:
    """Run history, one line per run, narrow enough for an 80-column terminal.

    Below the table, each failed run says why and each revert says what it undid.
    """
    table = Table(title="Sync runs", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    columns = ("Run", "Connection", "Started UTC", "Status", "Read", "Fields", "Tasks")
    for column in (*columns, "Err", "API"):
        # A long connection name wraps rather than being cut into an ambiguous prefix.
        table.add_column(column, no_wrap=column != "Connection", overflow="fold")
    for r in rows:
        t = r.totals
        table.add_row(
            str(r.id),
            escape(r.connection),
            r.started_at.strftime("%m-%d %H:%M"),
            _status(r.status),
            str(t.engagements_read),
            str(t.fields_updated),
            f"+{t.tasks_opened + t.tasks_reopened}/-{t.tasks_closed}",
            str(t.record_errors),
            str(t.api_calls_read + t.api_calls_write),
        )
    console.print(table)
    for r in rows:
        note = _note(r)
        if note:
            console.print(f"Run {r.id}: {note}", highlight=False)


def _value(value: object) -> str:
    return "" if value is None else escape(str(value))


def engagement_label(change: ChangeRecord) -> str:
    """The engagement a change touched, by name with its id, or by id where no name is known."""
    if change.engagement_name:
        return f"{escape(change.engagement_name)}\n[dim]{escape(change.record_id)}[/]"
    return escape(change.record_id)


def render_run(console: Console, row: RunRecord, changes: list[ChangeRecord]) -> None:
    kind = "dry run" if row.dry_run else ("full scan" if row.full_scan else "incremental")
    if row.reverts_run_id is not None:
        kind = f"revert of run {row.reverts_run_id}" + (" (dry run)" if row.dry_run else "")
    console.print(
        f"[bold]Run {row.id}[/] · {escape(row.connection)} ({row.crm}) · "
        f"as of {row.as_of.isoformat()} · {kind} · {_status(row.status)}",
        highlight=False,
    )
    finished = "-" if row.finished_at is None else row.finished_at.isoformat(timespec="seconds")
    console.print(f"Started {row.started_at.isoformat(timespec='seconds')}, finished {finished}")
    if row.error_message:
        console.print(f"[red]{escape(row.error_message)}[/]", highlight=False)
    console.print(_totals_table(row.totals, health=_assessed(row) and row.reverts_run_id is None))
    if row.totals.findings_by_rule:
        console.print(_findings_table(row.totals.findings_by_rule))
    if not changes:
        return
    table = Table(title="Changes", title_justify="left")
    for column in ("Engagement", "Change", "Before", "After", "Result"):
        table.add_column(column, overflow="fold")
    for c in changes:
        what = c.name if c.kind == "field" else f"{c.kind.replace('_', ' ')}: {c.name}"
        message = escape(c.message)
        result = {True: "[green]ok[/]", False: f"[red]{message}[/]", None: message}[c.ok]
        table.add_row(engagement_label(c), what, _value(c.before), _value(c.after), result)
    console.print(table)
