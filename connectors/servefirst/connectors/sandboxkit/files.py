"""What a sandbox leaves in its work directory for clients: a token file and servefirst.toml.

Both CRM sandboxes hand servefirst the same kind of set-up: a private token file and a
``servefirst.toml`` that runs the bundled playbook with its state database next to it. Only
the connection table differs, so the preamble, the quoting and the file modes live here once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from servefirst.config.private import write_private

CONFIG_NAME = "servefirst.toml"
STATE_NAME = "servefirst-state.db"
#: What ``seed=`` accepts when a sandbox starts: the demo account or an empty one.
SEEDS = ("demo", "none")


def check_seed(seed: str) -> None:
    """Refuse an unknown ``seed`` before anything is started or written."""
    if seed not in SEEDS:
        raise ValueError(f"seed must be 'demo' or 'none', not {seed!r}")


def toml_string(value: object) -> str:
    """A TOML basic string (a JSON string is one), for paths and URLs with any character."""
    return json.dumps(str(value))


def write_config(workdir: Path, header: Iterable[str], connection: Iterable[str]) -> Path:
    """Write ``servefirst.toml``: comment ``header``, the shared preamble, the ``connection``.

    The preamble runs the bundled ``prime`` playbook and keeps sync state in a SQLite file in
    ``workdir``, so each sandbox's demo starts from its own clean state.
    """
    state = f"sqlite:///{(workdir / STATE_NAME).resolve()}"
    lines = [
        *(f"# {line}" for line in header),
        'playbook = "builtin:prime"',
        f"state_url = {toml_string(state)}",
        "",
        *connection,
        "",
    ]
    return write_private(workdir / CONFIG_NAME, "\n".join(lines))
