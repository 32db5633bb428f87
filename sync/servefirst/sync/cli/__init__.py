"""The ``servefirst`` command line.

Each command group lives in its own module and registers itself on ``app`` when imported, so
the groups stay small and independent: ``playbook_cmds`` (init, validate, playbook show/check),
``sandbox_cmds`` (sandbox serve), ``sync_cmds`` (provision, sync, run, runs), ``revert_cmds``
(runs revert), ``report_cmds`` (report), ``demo_cmds`` (demo), ``doctor_cmds`` (doctor),
``health_cmds`` (health), ``scale_cmds`` (worker, enqueue), ``plan_cmds`` (plan: the
sponsor's timetable export).
"""

from __future__ import annotations

from servefirst.sync.cli import (  # noqa: F401  (each module registers its commands)
    demo_cmds,
    doctor_cmds,
    health_cmds,
    plan_cmds,
    playbook_cmds,
    report_cmds,
    revert_cmds,
    sandbox_cmds,
    scale_cmds,
    sync_cmds,
)
from servefirst.sync.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
