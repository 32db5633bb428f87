"""The ``servefirst`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Compile a serve-first playbook into your CRM.")


def main() -> None:
    """Console-script entry point."""
    app()
