"""``plan``: one engagement's project timetable, exported for its sponsor.

Pulls that one engagement from the CRM by id (nothing is written), computes its timetable with
the connection's playbook, and writes Markdown, a printable HTML page or an iCalendar file.
"""

from __future__ import annotations

import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    ConfigOption,
    ConnectionOption,
    config_errors,
    connection_names,
    err_console,
    fail,
    load,
    parse_date,
)
from servefirst.sync.cli.output import plain

if TYPE_CHECKING:
    from servefirst.config.settings import Settings
    from servefirst.playbook.model import Engagement
    from servefirst.playbook.timetable import Timetable


class Format(StrEnum):
    """What ``plan`` writes."""

    MD = "md"
    HTML = "html"
    ICS = "ics"


@app.command("plan")
def plan(
    engagement_id: Annotated[str, typer.Argument(help="The engagement's CRM id.")],
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="md, html (printable page) or ics.")
    ] = Format.HTML,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write here instead of stdout.", dir_okay=False),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Plan from this date (YYYY-MM-DD).")
    ] = None,
    config: ConfigOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Export an engagement's project timetable for its sponsor (reads the CRM, writes nothing)."""
    from servefirst.config.loader import load_playbook  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.playbook.timetable import build_timetable  # noqa: PLC0415

    day = parse_date(as_of)
    settings, _ = load(config)
    (name,) = connection_names(settings, connection, every=False)
    with config_errors():
        playbook = load_playbook(settings, name)
    engagement = _pull_one(settings, name, engagement_id)
    table = build_timetable(engagement, playbook, day)
    data = render(fmt, engagement, table)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}", Exit.USAGE)
    err_console.print(plain(f"Wrote the timetable of {engagement.name} to {out}."))


def render(fmt: Format, engagement: Engagement, table: Timetable) -> bytes:
    """The export in ``fmt`` as bytes (UTF-8 for the text formats)."""
    if fmt is Format.ICS:
        from servefirst.playbook.export.ics import to_ics  # noqa: PLC0415

        return to_ics(engagement, table)
    if fmt is Format.MD:
        from servefirst.playbook.export.markdown import to_markdown  # noqa: PLC0415

        return to_markdown(engagement, table).encode("utf-8")
    from servefirst.playbook.export.html import to_html  # noqa: PLC0415

    return to_html(engagement, table).encode("utf-8")


def _pull_one(settings: Settings, name: str, engagement_id: str) -> Engagement:
    """The engagement with this id, read through the connector (exit 1 if it is not there)."""
    from servefirst.config.loader import load_playbook  # noqa: PLC0415
    from servefirst.connectors.base import PullWindow, UnmappableRecord  # noqa: PLC0415
    from servefirst.playbook.errors import ServeFirstError  # noqa: PLC0415
    from servefirst.sync.service import opened_connector  # noqa: PLC0415

    # An incremental window from tomorrow matches no edit, so only the id comes back (anything
    # else a connector adds is filtered out here).
    window = PullWindow(
        modified_since=dt.datetime.now(dt.UTC) + dt.timedelta(days=1), ids=(engagement_id,)
    )
    found: Engagement | None = None
    try:
        with (
            config_errors(),
            opened_connector(settings, load_playbook(settings, name), name) as connector,
        ):
            for record in connector.pull(window):
                if isinstance(record, UnmappableRecord):
                    if record.record_id == engagement_id:
                        fail(f"{engagement_id}: {record.reason}", Exit.RECORD_ERRORS)
                    continue
                if record.id == engagement_id:
                    found = record
    except ServeFirstError as exc:
        fail(f"reading {engagement_id} from {name} failed: {exc}", Exit.FAILED)
    if found is None:
        fail(
            f"no engagement {engagement_id!r} in connection {name} (or it is outside the "
            "playbook's pipeline)",
            Exit.RECORD_ERRORS,
        )
    return found
