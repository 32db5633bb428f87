"""``servefirst worker`` and ``servefirst enqueue``: the scale-out side of the command line.

Both need the ``scale`` extra (Dramatiq and the Redis client); a plain install says which
extra to add instead of failing on an import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    AllOption,
    ConfigOption,
    ConnectionOption,
    config_errors,
    connection_names,
    console,
    fail,
)
from servefirst.sync.cli.output import setup_logging

if TYPE_CHECKING:
    from servefirst.config.settings import Settings

#: What the ``scale`` extra installs.
SCALE_MODULES = ("dramatiq", "redis")


def require_scale_extra(command: str) -> None:
    """Exit 2 naming the extra to install when Dramatiq is absent."""
    from importlib.util import find_spec  # noqa: PLC0415

    missing = [name for name in SCALE_MODULES if find_spec(name) is None]
    if missing:
        fail(
            f"`servefirst {command}` needs the scale extra ({', '.join(missing)} missing): "
            "pip install 'servefirst[scale]'",
            Exit.USAGE,
        )


@app.command()
def worker(
    config: ConfigOption = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Runs at once in this process (default: [scale] threads)."
        ),
    ] = None,
) -> None:
    """Run queued syncs, provisions and reverts (Dramatiq) until stopped (SIGTERM or Ctrl-C).

    Start as many workers as you like, on any hosts that reach the broker and the state
    database: one connection never has two runs at once.
    """
    require_scale_extra("worker")
    from servefirst.config.loader import config_path, load_settings  # noqa: PLC0415
    from servefirst.sync.scale.worker import serve_worker  # noqa: PLC0415

    with config_errors():
        settings = load_settings(config)
        setup_logging(settings.log_level, interactive=False)
        serve_worker(settings, config_path(config).resolve(), threads=threads)


@app.command()
def enqueue(
    config: ConfigOption = None,
    connection: ConnectionOption = None,
    every: AllOption = False,
) -> None:
    """Queue a sync for the workers instead of running it here."""
    require_scale_extra("enqueue")
    from servefirst.config.loader import load_settings  # noqa: PLC0415
    from servefirst.sync.scale.enqueue import enqueue_sync  # noqa: PLC0415

    with config_errors():
        settings = load_settings(config)
    for name in connection_names(settings, connection, every):
        try:
            message_id = enqueue_sync(settings, name)
        except Exception as exc:  # the broker is down or refuses: say which and where
            fail(f"could not queue the sync of {name} on {_where(settings)}: {exc}", Exit.FAILED)
        console.print(f"queued the sync of {name} (message {message_id})", markup=False)


def _where(settings: Settings) -> str:
    """The broker's host and port, never its password."""
    from urllib.parse import urlsplit  # noqa: PLC0415

    url = urlsplit(settings.scale.broker_url)
    return f"{url.scheme}://{url.hostname}:{url.port or ''}".rstrip(":")
