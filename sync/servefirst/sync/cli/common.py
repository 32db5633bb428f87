"""Helpers every command shares: consoles, config loading with clean exits, option types.

This module is imported by every command module when ``servefirst --help`` builds the command
tree, so it imports nothing heavy at the top: config loading (pydantic, YAML) is imported when
a command runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape

from servefirst.sync.cli.app import Exit
from servefirst.sync.cli.output import console, err_console

if TYPE_CHECKING:
    from servefirst.config.settings import Settings
    from servefirst.playbook.definition import Playbook

__all__ = [
    "AllOption",
    "ConfigOption",
    "ConnectionOption",
    "config_errors",
    "console",
    "err_console",
    "fail",
    "load",
    "parse_date",
]

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
AllOption = Annotated[
    bool, typer.Option("--all", help="Every configured connection, one after the other.")
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
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(int(code))


@contextmanager
def config_errors() -> Iterator[None]:
    """Turn ConfigError into the documented exit 2, with one line per problem."""
    from servefirst.config.loader import ConfigFileError  # noqa: PLC0415 - see module doc
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415

    try:
        yield
    except ConfigFileError as exc:
        for problem in exc.problems:
            err_console.print(problem, markup=False)
        raise typer.Exit(int(Exit.USAGE)) from None
    except ConfigError as exc:
        fail(str(exc), Exit.USAGE)


def load(config: Path | None) -> tuple[Settings, Playbook]:
    """Settings and their playbook, exiting 2 with clear messages on any problem.

    A ``stage_map`` naming no stage of its playbook stops here, before a connection opens or a
    run is recorded.
    """
    from servefirst.config.loader import (  # noqa: PLC0415
        ConfigFileError,
        load_playbook,
        load_settings,
        stage_map_problems,
    )

    with config_errors():
        settings = load_settings(config)
        playbook = load_playbook(settings)
        problems = stage_map_problems(settings, config)
        if problems:
            raise ConfigFileError(problems)
        return settings, playbook


def connection_names(settings: Settings, connection: str | None, every: bool) -> list[str]:
    """The connections a command runs for: ``--all``, ``--connection NAME`` or the only one."""
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415

    if every and connection is not None:
        fail("--all and --connection exclude each other: give one", Exit.USAGE)
    if every:
        if not settings.connections:
            fail("no connections are configured; add a [connections.NAME] table", Exit.USAGE)
        return list(settings.connections)
    try:
        name, _ = settings.connection(connection)
    except ConfigError as exc:
        message = str(exc)
        if connection is None and len(settings.connections) > 1:
            message += " with --connection NAME, or run them all with --all"
        fail(message, Exit.USAGE)
    return [name]


#: What the ``sandbox`` extra installs: the local CRM emulators' web stack.
SANDBOX_MODULES = ("starlette", "uvicorn", "trustme")


def require_sandbox_extra(command: str) -> None:
    """Exit 2 naming the extra to install when the sandboxes' web stack is absent.

    A production install leaves it out on purpose; only ``sandbox`` and ``demo`` need it.
    """
    from importlib.util import find_spec  # noqa: PLC0415

    missing = [name for name in SANDBOX_MODULES if find_spec(name) is None]
    if missing:
        fail(
            f"`servefirst {command}` runs a local CRM sandbox, which needs the sandbox extra "
            f"({', '.join(missing)} missing): pip install 'servefirst[sandbox]'",
            Exit.USAGE,
        )
