"""``servefirst demo``: the end-to-end story on a local sandbox, no network, no credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import console, fail, require_sandbox_extra


@app.command()
def demo(
    crm: Annotated[
        str, typer.Option(help="salesforce, hubspot, or both (one after the other).")
    ] = "salesforce",
    engagements: Annotated[
        int, typer.Option(help="Seed this many more engagements (volume).", min=0)
    ] = 0,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Keep the sandbox config and state here (default: a temp dir).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Provision, seed, sync, let reps fix engagements, sync again: the whole story."""
    require_sandbox_extra("demo")
    from servefirst.sync.demo import run_demo  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.demo.story import CRMS  # noqa: PLC0415

    chosen = CRMS if crm == "both" else (crm,)
    if any(c not in CRMS for c in chosen):
        fail(f"--crm must be salesforce, hubspot or both, not {crm!r}", Exit.USAGE)
    codes = [run_demo(c, engagements=engagements, workdir=workdir, console=console) for c in chosen]
    raise typer.Exit(max(codes))
