"""``servefirst doctor``: a preflight against the CRM, one checklist line per check.

``validate`` reads files only; ``doctor`` talks to the CRM, read-only, and answers whether a
sync would work: reachable (DNS, port, certificate), logged in (and for how long), the API
version, scopes or object and field access, provisioned fields, stages, the pipeline, the
day's API budget and the clock. Each failure is one line naming what to do. Exit 0 when
nothing failed (warnings allowed), 1 when something did, 2 for a config it cannot read.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    AllOption,
    ConfigOption,
    ConnectionOption,
    config_errors,
    connection_names,
    console,
    load,
)
from servefirst.sync.cli.output import setup_logging

if TYPE_CHECKING:
    from servefirst.connectors.preflight import Check

#: doctor's exit code when a check failed (the CRM is reachable or not, nothing was written).
CHECK_FAILED = 1
_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@app.command()
def doctor(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    every: AllOption = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the checklists as one JSON document.")
    ] = False,
) -> None:
    """Check a connection against its CRM before syncing: one line per check, with the fix."""
    from servefirst.config.loader import load_playbook  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.connectors import diagnose_connection  # noqa: PLC0415

    settings, _ = load(config)
    setup_logging(settings.log_level)
    results: list[tuple[str, str, list[Check]]] = []
    for name in connection_names(settings, connection, every):
        conn = settings.connections[name]
        with config_errors():
            playbook = load_playbook(settings, name)
        checks = diagnose_connection(name, conn, playbook, settings.base_dir)
        results.append((name, conn.crm, checks))
        if not json_output:
            _render(name, conn.crm, checks)
    failed = any(c.status.value == "fail" for _, _, checks in results for c in checks)
    if json_output:
        document = [
            {
                "connection": name,
                "crm": crm,
                "ok": not any(c.status.value == "fail" for c in checks),
                "checks": [
                    {"check": c.name, "status": c.status.value, "message": c.message, "fix": c.fix}
                    for c in checks
                ],
            }
            for name, crm, checks in results
        ]
        sys.stdout.write(json.dumps(document if every else document[0]) + "\n")
    raise typer.Exit(CHECK_FAILED if failed else int(Exit.OK))


def _render(name: str, crm: str, checks: list[Check]) -> None:
    """The checklist of one connection; each check on one line, however long."""
    console.print(Text(f"{name} ({crm})", style="bold"))
    width = max(len(c.name) for c in checks)
    for check in checks:
        line = Text("  ")
        line.append(f"{check.status.value:<4}", style=_STYLE[check.status.value])
        line.append(f"  {check.name:<{width}}  {check.line()}")
        console.print(line, soft_wrap=True)
    failures = sum(c.status.value == "fail" for c in checks)
    warnings = sum(c.status.value == "warn" for c in checks)
    verdict = "ready to sync" if not failures else f"{failures} to fix before syncing"
    console.print(Text(f"  {verdict}; {warnings} warning(s)"))
