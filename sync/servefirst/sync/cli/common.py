"""Helpers every command shares: consoles, config loading with clean exits, option types."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from servefirst.config.loader import (
    ConfigFileError,
    load_playbook,
    load_settings,
    stage_map_problems,
)
from servefirst.config.settings import Settings
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError
from servefirst.sync.cli.app import Exit

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="servefirst.toml to use (default: $SERVEFIRST_CONFIG or ./servefirst.toml).",
        dir_okay=False,
    ),
]
ConnectionOption = Annotated[
    str | None,
    typer.Option("--connection", help="Connection name (default: the only one configured)."),
]


def parse_date(value: str | None, option: str = "--as-of") -> dt.date:
    """A YYYY-MM-DD option value (today, UTC, when absent) or a usage error."""
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-31", Exit.USAGE)


def fail(message: str, code: Exit) -> NoReturn:
    """Print an error for a human (on stderr) and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(int(code))


@contextmanager
def config_errors() -> Iterator[None]:
    """Turn ConfigError into the documented exit 2, with one line per problem."""
    try:
        yield
    except ConfigFileError as exc:
        for problem in exc.problems:
            err_console.print(problem, markup=False, highlight=False)
        raise typer.Exit(int(Exit.USAGE)) from None
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def load(config: Path | None) -> tuple[Settings, Playbook]:
    """Settings and their playbook, exiting 2 with clear messages on any problem.

    A ``stage_map`` naming no stage of the playbook stops here, before a connection opens or a
    run is recorded.
    """
    with config_errors():
        settings = load_settings(config)
        playbook = load_playbook(settings)
        problems = stage_map_problems(settings, playbook, config)
        if problems:
            raise ConfigFileError(problems)
        return settings, playbook
