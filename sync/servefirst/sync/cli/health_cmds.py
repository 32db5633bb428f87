"""``servefirst health``: is the background sync alive? For systemd, container health checks
and monitoring.

It reads the state store only (never the CRM, so it costs no API call and works while the CRM
is down): for each connection, the newest real run must exist, must not have failed, and must
have started recently enough for its schedule. Exit 0 healthy, 1 unhealthy, 2 for a config it
cannot read. A ``partial`` run counts as healthy: the sync works, some records were refused,
and the alert webhook and ``runs show`` say which.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import ConfigOption, config_errors, console

if TYPE_CHECKING:
    from servefirst.config.settings import Schedule
    from servefirst.sync.state import RunRecord

#: The exit code of an unhealthy sync (the check itself worked).
UNHEALTHY = 1
#: Runs looked at to find the newest real (not dry-run) sync of a connection.
LOOKBACK = 50
#: A cron schedule's default allowance: one missed day is too many.
CRON_MAX_AGE = dt.timedelta(hours=25)


def max_age(schedule: Schedule, override_minutes: int | None) -> dt.timedelta:
    """How old the newest run may be: three intervals, a day for cron, or the option."""
    if override_minutes is not None:
        return dt.timedelta(minutes=override_minutes)
    if schedule.interval_minutes is not None:
        return dt.timedelta(minutes=3 * schedule.interval_minutes)
    return CRON_MAX_AGE


def verdict(run: RunRecord | None, allowed: dt.timedelta, now: dt.datetime) -> str | None:
    """Why a connection is unhealthy, or ``None`` when it is fine."""
    from servefirst.sync.state import RunStatus  # noqa: PLC0415 - keeps `--help` fast

    if run is None:
        return "no sync has run yet: is `servefirst run` started?"
    age = now - run.started_at
    if age > allowed:
        minutes = int(age.total_seconds() // 60)
        return f"the newest run ({run.id}) started {minutes} min ago: is `servefirst run` alive?"
    if run.status in (RunStatus.FAILED, RunStatus.DEAD_LETTER):
        return f"the newest run ({run.id}) failed: {run.error_message or 'see runs show'}"
    return None


@app.command()
def health(
    config: ConfigOption = None,
    max_age_minutes: Annotated[
        int | None,
        typer.Option(
            "--max-age-minutes",
            min=1,
            help="Oldest acceptable newest run (default: three schedule intervals, 25 h for "
            "cron schedules).",
        ),
    ] = None,
) -> None:
    """Exit 0 when every connection's newest sync is recent and did not fail (reads state only)."""
    from servefirst.config.loader import load_settings  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.sync.service import opened_store  # noqa: PLC0415

    with config_errors():
        settings = load_settings(config)
        with opened_store(settings) as store:
            newest = {
                name: next(
                    (r for r in store.list_runs(name, LOOKBACK) if not r.dry_run),
                    None,
                )
                for name in settings.connections
            }
    now = dt.datetime.now(dt.UTC)
    sick = 0
    for name, conn in settings.connections.items():
        run = newest[name]
        problem = verdict(run, max_age(conn.schedule, max_age_minutes), now)
        if problem is None:
            assert run is not None  # noqa: S101 - no problem means a run exists
            minutes = int((now - run.started_at).total_seconds() // 60)
            line = f"{name}: ok, run {run.id} ({run.status.value}) started {minutes} min ago"
            console.print(Text(line))
        else:
            sick += 1
            console.print(Text(f"{name}: {problem}"), style="red")
    raise typer.Exit(UNHEALTHY if sick else int(Exit.OK))
