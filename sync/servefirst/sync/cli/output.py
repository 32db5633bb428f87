"""Where the command line's output goes, and how loud it is.

Two rules hold for every command. First, CRM data, file names and messages are printed as they
are: Rich's emoji codes and markup are never applied to them (a playbook line ``:100:`` once
came out as an emoji), so the consoles have emoji off and data goes through ``plain``. Second,
``-q`` and ``-v`` work on every command: ``VerboseGroup`` takes them off the command line
before dispatching, so commands written later honour them without declaring them.

Logs go to stderr only with ``-v`` or when stderr is not a terminal (a scheduler, a pipe, a log
shipper); in a terminal the command's own summary says what happened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from servefirst.sync.state import RunTotals

console = Console(emoji=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)


class Verbosity(IntEnum):
    """How much a command prints besides its result: set by ``-q`` and ``-v``."""

    QUIET = 0
    NORMAL = 1
    VERBOSE = 2


@dataclass
class _State:
    verbosity: Verbosity = Verbosity.NORMAL


state = _State()


def plain(value: object) -> Text:
    """CRM data or a file name as literal text: no markup, no emoji, no highlighting."""
    return Text(str(value))


def set_verbosity(verbosity: Verbosity) -> None:
    """Apply ``-q``/``-v``: quiet silences the human output on stdout, never errors."""
    state.verbosity = verbosity
    console.quiet = verbosity is Verbosity.QUIET


def logs_wanted(*, interactive: bool | None = None) -> bool:
    """Whether log lines belong on stderr: with ``-v``, or when nobody watches a terminal."""
    if state.verbosity is Verbosity.QUIET:
        return False
    if interactive is None:
        interactive = sys.stderr.isatty()
    return state.verbosity is Verbosity.VERBOSE or not interactive


def setup_logging(level: str, *, interactive: bool | None = None) -> None:
    """Configure servefirst's logs for a CLI command from the config's ``log_level``.

    ``-v`` lowers a ``warning`` or ``error`` level to ``info``; ``-q`` and a terminal without
    ``-v`` leave stderr to the command's own messages.
    """
    from servefirst.sync.logs import configure_logging, silence_logging  # noqa: PLC0415

    if not logs_wanted(interactive=interactive):
        silence_logging()
        return
    if state.verbosity is Verbosity.VERBOSE and level in ("warning", "error"):
        level = "info"
    configure_logging(level)


#: The verbosity flags every command accepts, before or after the command's name.
FLAGS = {
    "-q": Verbosity.QUIET,
    "--quiet": Verbosity.QUIET,
    "-v": Verbosity.VERBOSE,
    "--verbose": Verbosity.VERBOSE,
}


class VerboseGroup(TyperGroup):
    """The root command group: takes ``-q``/``-v`` wherever they stand on the command line.

    The flags are read here, once, before Click dispatches to a command, so every command
    (including those added later) honours them without declaring them; ``--`` ends the scan.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        set_verbosity(Verbosity.NORMAL)
        rest: list[str] = []
        for index, arg in enumerate(args):
            if arg == "--":
                rest.extend(args[index:])
                break
            if arg in FLAGS:
                set_verbosity(FLAGS[arg])
            else:
                rest.append(arg)
        result: list[str] = super().parse_args(ctx, rest)
        return result


class SyncProgress:
    """A progress line with counts on stderr, shown only once a sync outlasts ``delay`` seconds.

    Short syncs print their summary and nothing else; a long one (thousands of engagements)
    shows how far it got instead of staying silent until the end.
    """

    def __init__(
        self,
        target: Console,
        *,
        delay: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.delay = delay
        self.clock = clock
        self.started = clock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, totals: RunTotals) -> None:
        """Update from the engine's running totals (after each batch)."""
        if self._progress is None:
            if self.clock() - self.started < self.delay:
                return
            self._progress, self._task = self._start()
        assert self._task is not None  # noqa: S101 - started together with the progress
        self._progress.update(self._task, description=describe_totals(totals))

    def _start(self) -> tuple[Progress, TaskID]:
        from rich.progress import (  # noqa: PLC0415 - only long syncs need it
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=12),
            TimeElapsedColumn(),
            console=self.target,
            transient=True,
        )
        progress.start()
        return progress, progress.add_task("Syncing", total=None)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def describe_totals(totals: RunTotals) -> str:
    """``Syncing: 4,000 read, 120 fields, 30 tasks opened, 12 closed`` from ``RunTotals``."""
    return (
        f"Syncing: {totals.engagements_read:,} read, {totals.fields_updated:,} fields, "
        f"{totals.tasks_opened:,} tasks opened, {totals.tasks_closed:,} closed"
    )
