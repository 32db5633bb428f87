"""``servefirst report``: the pipeline report, from the state store only (no CRM call)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    ConfigOption,
    ConnectionOption,
    config_errors,
    connection_names,
    err_console,
    fail,
)
from servefirst.sync.cli.output import plain

FORMATS: tuple[Literal["html"], Literal["json"], Literal["csv"]] = ("html", "json", "csv")


@app.command()
def report(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every configured connection in one report.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write here (default: report.html for html; stdout for json and csv).",
            dir_okay=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, json or csv.")] = "html",
) -> None:
    """The pipeline report: Operational-Date forecast, health, slips, findings, who needs help.

    Made from what the syncs recorded: it asks the CRM nothing and costs no API call.
    """
    from servefirst.config.loader import load_settings  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.report import build, render  # noqa: PLC0415
    from servefirst.sync.service import opened_store  # noqa: PLC0415

    if fmt not in FORMATS:
        fail(f"--format must be html, json or csv, not {fmt!r}", Exit.USAGE)
    if out is not None and not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist", Exit.USAGE)
    with config_errors():
        settings = load_settings(config)
        names = sorted(connection_names(settings, connection, every))
        with opened_store(settings) as store:
            figures = build(store, names)
    if figures.engagements == 0 and not figures.trend:
        fail(
            f"no sync has recorded engagements for {', '.join(names)} yet: run `servefirst sync`"
            " first",
            Exit.USAGE,
        )
    text = render(figures, fmt)
    if out is None and fmt != "html":
        sys.stdout.write(text)
        return
    target = out or Path("report.html")
    target.write_text(text, encoding="utf-8")
    err_console.print(plain(f"Report written to {target.resolve()}"))
