"""The root Typer app and the exit codes every command shares."""

from __future__ import annotations

from enum import IntEnum

import typer

from servefirst.sync.cli.output import VerboseGroup


class Exit(IntEnum):
    """Exit codes of every command: scripts and schedulers can rely on them."""

    OK = 0
    RECORD_ERRORS = 1  # finished, but some records were reported and skipped
    USAGE = 2  # usage or configuration error: fix the command or the config
    FAILED = 3  # the run failed (auth, budget, CRM unreachable); the checkpoint is kept


app = typer.Typer(
    cls=VerboseGroup,
    no_args_is_help=True,
    help="Compile a serve-first playbook into your CRM and keep it enforced.\n\n"
    "Every command also takes -q (print only errors and --json results) and -v (log lines on "
    "stderr), before or after its name.",
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        typer.echo(f"servefirst {version('servefirst')}")
        raise typer.Exit


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Compile a serve-first playbook into your CRM and keep it enforced."""
