"""The demo's script: provision, seed, sync, a rep's fixes, the incremental sync, the rep's
timetable, a dismissed task coming back and a manager's waiver, a quiet sync.

Everything runs in this process against a sandbox on loopback, with the real CRM client
libraries and the same service functions the CLI and the scheduler use, so what the demo shows
is what a user's scheduled sync does, not a simulation of it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook
from servefirst.sync.cli.sync_render import render_provision, render_sync
from servefirst.sync.demo.guidance import dismiss_and_waive, show_comeback, show_timetable
from servefirst.sync.demo.reps import RepDesk, rep_for
from servefirst.sync.engine.report import EngagementSummary, RunReport
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.report import build, render
from servefirst.sync.report.figures import HEALTH
from servefirst.sync.service import opened_store, provision_connection, sync_connection
from servefirst.sync.state import RunStatus

CRMS = ("salesforce", "hubspot")
_FIXES = ("operational_date_missing", "sponsor_missing", "success_criteria_missing")


def start_sandbox(crm: str, workdir: Path, engagements: int) -> RunningSandbox:
    """An empty sandbox of that CRM: the demo provisions before it seeds, as a user would."""
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import (  # noqa: PLC0415
            start_sandbox as start_salesforce,
        )

        return start_salesforce(
            workdir=workdir, seed="none", stages="servefirst", engagements=engagements
        )
    from servefirst.connectors.hubspot.sandbox import (  # noqa: PLC0415
        start_sandbox as start_hubspot,
    )

    # The demo's rep fixes are read by the very next sync: no search lag, no rate limits.
    return start_hubspot(
        workdir=workdir,
        seed="none",
        engagements=engagements,
        rate_limits=False,
        search_lag_seconds=0.0,
    )


def run_demo(
    crm: str,
    *,
    engagements: int = 0,
    workdir: Path | None = None,
    console: Console | None = None,
) -> int:
    """Tell the whole story on one CRM; returns the exit code (0 when every step worked)."""
    console = console or Console()
    started = time.monotonic()
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"servefirst-demo-{crm}-"))
    today = dt.datetime.now(dt.UTC).date()
    crm_name = "Salesforce" if crm == "salesforce" else "HubSpot"
    console.print(Rule(f"servefirst demo on a local {crm_name} sandbox"))
    sandbox = start_sandbox(crm, workdir / crm, 0)
    try:
        console.print(
            f"A {crm_name} API emulator is serving on {sandbox.url} (loopback only; the real "
            f"{'simple-salesforce' if crm == 'salesforce' else 'hubspot-api-client'} talks to it)."
        )
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)

        _step(console, "1. RevOps provision the serve-first playbook into the CRM")
        name, report = provision_connection(settings, playbook, None, dry_run=False)
        render_provision(console, name, report, dry_run=False)

        _step(console, "2. A sales team at work: engagements in every stage")
        sandbox.seed("demo", 0)
        if engagements:
            sandbox.seed("bench", engagements)
            console.print(f"Seeded the demo org plus {engagements:,} more engagements.")

        def sync_once() -> RunReport:
            return sync_connection(settings, playbook, None, SyncOptions(as_of=today))

        _step(console, "3. The first background sync reads every engagement")
        first = sync_once()
        render_sync(console, first)
        _show_worst(console, first)

        second, third = _reps_at_work(
            console, rep_for(crm, sandbox), sync_once, first, playbook, today
        )

        _step(console, "9. Nothing new since: a sync that writes nothing")
        sync_once()  # reads our writes
        quiet = sync_once()
        console.print(
            f"Engagements read: {quiet.totals.engagements_read}; write calls: "
            f"{quiet.totals.api_calls_write}; data API calls in all: "
            f"{quiet.totals.api_calls_read + quiet.totals.api_calls_write}."
        )

        _step(console, "10. Provisioning again is a no-op")
        _, again = provision_connection(settings, playbook, None, dry_run=True)
        console.print(f"{len(again.changes)} change(s) would be made.")
    finally:
        sandbox.stop()
    _step(console, "11. The pipeline report, from servefirst's history alone (the CRM is stopped)")
    page = _write_report(console, settings, workdir / crm / "report.html")
    if crm == "salesforce":
        _step(
            console,
            "12. A fresh org keeps Salesforce's standard stages: the playbook maps onto them",
        )
        show_standard_org(console, workdir / "salesforce-standard", today)
    seconds = time.monotonic() - started
    console.print(Rule())
    console.print(
        f"Done in {seconds:.1f} s. State and config kept in {workdir / crm}: try "
        f"`servefirst runs list -c {sandbox.config_path}`."
    )
    console.print(
        f"The pipeline report is in {page}: open it in a browser.", highlight=False, soft_wrap=True
    )
    failed = any(r.status is RunStatus.FAILED for r in (first, second, third, quiet))
    return 3 if failed else 0


def show_standard_org(console: Console, workdir: Path, today: dt.date) -> RunReport:
    """Provision and sync a fresh org whose pipeline has the standard stages, through the
    ``stage_map`` its config carries: no stage is added, engagements map onto the existing ones.
    """
    from servefirst.connectors.salesforce.sandbox import (  # noqa: PLC0415
        start_sandbox as start_salesforce,
    )

    sandbox = start_salesforce(workdir=workdir, seed="none", stages="standard")
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        _, connection = settings.connection(None)
        for stage in playbook.stages:
            mapped = connection.stage_map.get(stage.key, stage.label)
            console.print(f"  {escape(stage.label)} is the org's {escape(mapped)} stage.")
        _, report = provision_connection(settings, playbook, None, dry_run=False)
        added = [s for s in report.changes if s.kind == "stage"]
        console.print(f"Provisioning added {len(added)} stage(s) to the org's pipeline.")
        sandbox.seed("demo", 0)
        run = sync_connection(settings, playbook, None, SyncOptions(as_of=today))
        console.print(
            f"The first sync read {run.totals.engagements_read} engagements in the standard "
            f"stages and opened {run.totals.tasks_opened} tasks."
        )
        return run
    finally:
        sandbox.stop()


def _write_report(console: Console, settings: Settings, path: Path) -> Path:
    """Write the HTML report of the demo's connection and say what it shows."""
    with opened_store(settings) as store:
        figures = build(store, list(settings.connections))
    path.write_text(render(figures, "html"), encoding="utf-8")
    health = {h: sum(getattr(r, h) for r in figures.by_stage) for h in HEALTH}
    console.print(
        f"{figures.engagements} engagements: {health['on_track']} on track, "
        f"{health['at_risk']} at risk, {health['off_track']} off track; "
        f"{figures.no_operational_date} without an Operational Date; the report charts when "
        "customers go live month by month, health by stage and owner, slips and findings."
    )
    if figures.as_of is not None:
        year, month = figures.as_of.year, figures.as_of.month
        months = {
            f"{year + (month + i - 1) // 12:04d}-{(month + i - 1) % 12 + 1:02d}" for i in range(3)
        }
        soon = sum(m.going_live for m in figures.forecast if m.month in months)
        console.print(f"Engagements going live this month and the next two: {soon}.")
    return path.resolve()


def _reps_at_work(
    console: Console,
    rep: RepDesk,
    sync_once: Callable[[], RunReport],
    first: RunReport,
    playbook: Playbook,
    today: dt.date,
) -> tuple[RunReport, RunReport]:
    """Steps 4 to 8: fixes, the timetable, a dismissed task and a waiver; two syncs' reports."""
    try:
        _step(console, "4. Reps fix three engagements in the CRM, as they would any day")
        fixed = _apply_fixes(console, rep, first, today)

        _step(
            console,
            "5. The next sync reads what changed since the first (its own writes included, "
            "which need nothing more), re-evaluates, and closes exactly the fixed tasks",
        )
        second = sync_once()
        render_sync(console, second)
        _show_fixed(console, second, fixed)

        _step(console, "6. What a rep sends the sponsor: the project timetable")
        show_timetable(console, rep, first)

        _step(console, "7. A rep marks a task done without fixing it; a manager waives a finding")
        done = dismiss_and_waive(console, rep, first, playbook, set(fixed), today)

        _step(console, "8. The next sync brings the dismissed task back and honours the waiver")
        third = sync_once()
        render_sync(console, third)
        if done is not None:
            show_comeback(console, rep, third, done)
        return second, third
    finally:
        rep.close()


def _step(console: Console, title: str) -> None:
    console.print()
    console.print(f"[bold cyan]{title}[/]")


def _show_worst(console: Console, report: RunReport, limit: int = 3) -> None:
    worst = [e for e in report.engagements if e.health == "off_track"][:limit]
    if not worst:
        return
    console.print("What reps now see on some of their engagements:")
    for engagement in worst:
        _print_engagement(console, engagement)


def _print_engagement(console: Console, engagement: EngagementSummary) -> None:
    style = {"on_track": "green", "at_risk": "yellow", "off_track": "red"}.get(
        engagement.health or "", "dim"
    )
    console.print(
        f"  [bold]{escape(engagement.name)}[/] ({escape(engagement.stage or '')}): "
        f"[{style}]{engagement.health}[/]"
    )
    for finding in engagement.findings:
        mark = "[red]✗[/]" if finding.severity == "error" else "[yellow]![/]"
        console.print(f"    {mark} {escape(finding.message)}", highlight=False)


def _apply_fixes(console: Console, rep: RepDesk, report: RunReport, today: dt.date) -> list[str]:
    chosen: dict[str, EngagementSummary] = {}
    for rule in _FIXES:
        for engagement in report.engagements:
            rules = {f.rule for f in engagement.findings}
            if rule in rules and engagement.id not in {e.id for e in chosen.values()}:
                chosen[rule] = engagement
                break
    for rule, engagement in chosen.items():
        label = escape(engagement.name)
        if rule == "operational_date_missing":
            when = today + dt.timedelta(days=150)
            rep.agree_operational_date(engagement.id, when)
            console.print(
                f"  {label}: the rep agrees the Operational Date {when} with the sponsor."
            )
        elif rule == "sponsor_missing":
            who = rep.name_sponsor(engagement.id)
            console.print(f"  {label}: the rep names {who} as the sponsor.")
        else:
            rep.write_success_criteria(
                engagement.id,
                "- [ ] Setup time down from 40 to 10 minutes\n- [ ] No retests from clamp slip",
            )
            console.print(f"  {label}: the rep writes the sponsor's success criteria.")
    return [e.id for e in chosen.values()]


def _show_fixed(console: Console, report: RunReport, fixed: list[str]) -> None:
    console.print(f"Tasks closed by this sync: {report.totals.tasks_closed}.")
    for engagement in report.engagements:
        if engagement.id in fixed:
            _print_engagement(console, engagement)
