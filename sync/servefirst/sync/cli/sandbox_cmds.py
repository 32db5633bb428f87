"""``servefirst sandbox serve``: run a local CRM sandbox until interrupted.

When ready it prints exactly one JSON line (``RunningSandbox.ready_line()``) on stdout, so a
script or test can start it, read the line and connect: ``{"crm", "url", "token", "ca_bundle",
"config"}``. Everything else (errors) goes to stderr. Ctrl-C or SIGTERM stops it cleanly.
"""

from __future__ import annotations

import importlib
import signal
import sys
import tempfile
import threading
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import require_sandbox_extra

sandbox_app = typer.Typer(no_args_is_help=True, help="Local CRM sandboxes for demos and tests.")
app.add_typer(sandbox_app, name="sandbox")


class Crm(StrEnum):
    salesforce = "salesforce"
    hubspot = "hubspot"


class Seed(StrEnum):
    demo = "demo"
    none = "none"


class Stages(StrEnum):
    standard = "standard"
    servefirst = "servefirst"


#: Where each CRM's sandbox lives; imported only when asked for, so the CLI starts fast and
#: works whichever connectors are installed.
_SANDBOX_MODULES = {
    Crm.salesforce: "servefirst.connectors.salesforce.sandbox",
    Crm.hubspot: "servefirst.connectors.hubspot.sandbox",
}


def _starter(crm: Crm) -> Any:
    """The CRM's ``start_sandbox`` (same keyword options for every CRM)."""
    require_sandbox_extra("sandbox serve")
    try:
        return importlib.import_module(_SANDBOX_MODULES[crm]).start_sandbox
    except (ImportError, AttributeError) as exc:
        typer.echo(
            f"The {crm.value} sandbox is not available in this installation ({exc}).", err=True
        )
        raise typer.Exit(Exit.USAGE) from None


@sandbox_app.command("serve")
def serve(
    *,
    crm: Annotated[Crm, typer.Option(help="Which CRM to emulate.")],
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1; 0 picks a free one.")] = 0,
    seed: Annotated[Seed, typer.Option(help="Seed the demo org, or start empty.")] = Seed.demo,
    engagements: Annotated[
        int, typer.Option(min=0, help="Also seed this many benchmark engagements.")
    ] = 0,
    data: Annotated[
        Path | None, typer.Option(help="SQLite file to load the org from and keep it in.")
    ] = None,
    stages: Annotated[
        Stages | None,
        typer.Option(
            help="Salesforce only: the org's Opportunity stages, Salesforce's standard ones "
            "(as a new org ships) or serve-first's. Default: standard for an empty org, "
            "servefirst for the demo org."
        ),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where to write the CA bundle, token and servefirst.toml (default: a "
            "new temporary directory).",
        ),
    ] = None,
) -> None:
    """Serve a local sandbox of CRM's API until Ctrl-C or SIGTERM."""
    start = _starter(crm)
    options: dict[str, Any] = {}
    if stages is not None:
        if crm is not Crm.salesforce:
            typer.echo("--stages applies to the Salesforce sandbox only.", err=True)
            raise typer.Exit(Exit.USAGE)
        options["stages"] = stages.value
    workdir = directory or Path(tempfile.mkdtemp(prefix=f"servefirst-{crm.value}-"))
    try:
        sandbox = start(
            workdir=workdir,
            port=port,
            seed=seed.value,
            engagements=engagements,
            data=data,
            **options,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        typer.echo(f"Could not start the {crm.value} sandbox: {exc}", err=True)
        raise typer.Exit(Exit.FAILED) from None
    stopping = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sys.stdout.write(sandbox.ready_line() + "\n")
    sys.stdout.flush()
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
