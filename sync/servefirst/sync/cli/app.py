"""The root Typer app and the exit codes every command shares."""

from __future__ import annotations

from enum import IntEnum

import typer


class Exit(IntEnum):
    """Exit codes of every command: scripts and schedulers can rely on them."""

    OK = 0
    RECORD_ERRORS = 1  # finished, but some records were reported and skipped
    USAGE = 2  # usage or configuration error: fix the command or the config
    FAILED = 3  # the run failed (auth, budget, CRM unreachable); the checkpoint is kept


app = typer.Typer(
    no_args_is_help=True,
    help="Compile a serve-first playbook into your CRM and keep it enforced.",
    pretty_exceptions_show_locals=False,
)
