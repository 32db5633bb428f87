"""``servefirst report``: the pipeline's Operational Dates, health, slips and findings.

Made from the state store alone (each engagement's latest snapshot and the pipeline history),
so a report costs no API call and works while the CRM is unreachable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Literal

from servefirst.sync.report.export import to_csv, to_json
from servefirst.sync.report.figures import Figures, compute
from servefirst.sync.state.store import StateStore

Format = Literal["html", "json", "csv"]
FORMATS: tuple[Format, ...] = ("html", "json", "csv")


def build(store: StateStore, connections: Sequence[str]) -> Figures:
    """The figures of these connections, as their latest syncs left them."""
    return compute(
        connections,
        store.snapshots.all(connections),
        store.snapshots.history(connections),
    )


def render(figures: Figures, fmt: Format, generated: dt.datetime | None = None) -> str:
    """The report in one of ``FORMATS``."""
    if fmt == "json":
        return json.dumps(to_json(figures), indent=2) + "\n"
    if fmt == "csv":
        return to_csv(figures)
    from servefirst.sync.report.page import render as page  # noqa: PLC0415 - loads matplotlib

    return page(figures, generated or dt.datetime.now(dt.UTC))


__all__ = ["FORMATS", "Figures", "Format", "build", "render"]
