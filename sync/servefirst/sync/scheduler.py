"""``servefirst run``: APScheduler 3.11 runs every connection's sync on its schedule.

Jobs live in a SQLAlchemy job store on the state database, so schedules survive restarts: a
job whose trigger is unchanged keeps its stored next run time, and a run missed while the
process was down still happens on start if it is within the connection's misfire grace time
(coalesced into one). Each job is a module-level function referenced by name with plain string
arguments, so it pickles, and it re-reads the config on every run, so an edited playbook applies
without a restart. A failed sync is logged and recorded and the scheduler carries on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Schedule, Settings
from servefirst.playbook.errors import ConfigError
from servefirst.sync.clock import connection_zone, today_in, zone_named
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.engine.stop import StopRequest
from servefirst.sync.logs import log_event
from servefirst.sync.service import sync_connection
from servefirst.sync.state import LeaseHeldError, StateStore, create_state_engine

log = logging.getLogger("servefirst.sync.scheduler")

JOB_FUNC = "servefirst.sync.scheduler:run_scheduled_sync"
#: The job of ``--backend dramatiq``: enqueue for the workers instead of running here.
ENQUEUE_FUNC = "servefirst.sync.scale.enqueue:enqueue_scheduled_sync"
BACKENDS = {"embedded": JOB_FUNC, "dramatiq": ENQUEUE_FUNC}
JOBS_TABLE = "apscheduler_jobs"

#: Requested when the scheduler is told to stop: the running syncs end after their batch.
STOPPING = StopRequest()


def run_scheduled_sync(config_path: str, connection_name: str) -> str:
    """The job: one sync of one connection as of today; returns the run status, never raises.

    "Today" is the connection's own calendar day. A connection another process is syncing
    (a manual ``servefirst sync``, a second scheduler) is skipped: its lease names the holder.
    """
    try:
        settings = load_settings(Path(config_path))
        playbook = load_playbook(settings, connection_name)
        name, conn = settings.connection(connection_name)
        today = today_in(connection_zone(name, conn))
        options = SyncOptions(as_of=today, keep_engagements=False)
        report = sync_connection(settings, playbook, connection_name, options, stop=STOPPING)
    except LeaseHeldError as exc:
        log_event(log, logging.WARNING, "sync_skipped", connection=connection_name, why=str(exc))
        return "skipped"
    except ConfigError as exc:
        log_event(
            log,
            logging.ERROR,
            "scheduled_sync_config_error",
            connection=connection_name,
            error=str(exc),
        )
        return "failed"
    except Exception:
        log.exception("scheduled sync of %s failed unexpectedly", connection_name)
        return "failed"
    return report.status.value


def trigger_for(name: str, schedule: Schedule, default_zone: str | None = None) -> BaseTrigger:
    """The APScheduler trigger of a connection's schedule; bad values name the connection.

    The schedule's own ``timezone`` wins; else ``default_zone`` (the connection's); else this
    machine's zone.
    """
    zone = zone_named(
        schedule.timezone or default_zone, what=f"connection {name!r}: schedule timezone"
    )
    if schedule.cron is not None:
        try:
            return CronTrigger.from_crontab(schedule.cron, timezone=zone)
        except ValueError as exc:
            raise ConfigError(f"connection {name!r}: bad cron {schedule.cron!r}: {exc}") from None
    assert schedule.interval_minutes is not None  # noqa: S101 - the model requires one of them
    return IntervalTrigger(minutes=schedule.interval_minutes, timezone=zone)


def _same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    return (type(a), str(a), str(getattr(a, "timezone", ""))) == (
        type(b),
        str(b),
        str(getattr(b, "timezone", "")),
    )


def build_scheduler(
    settings: Settings,
    config_path: Path,
    *,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
    backend: str = "embedded",
) -> BaseScheduler:
    """A scheduler with one job per configured connection, ready to ``start()``.

    ``backend`` ``embedded`` runs each sync in this process; ``dramatiq`` only enqueues it for
    ``servefirst worker`` processes (switching backends replaces the stored jobs).

    Job id = connection name. Stored jobs of connections no longer configured are removed; a
    stored job whose trigger is unchanged keeps its next run time (so restarts neither skip nor
    double a run); a new or changed job first runs now.
    """
    url = settings.resolve_state_url()
    StateStore.open(url).close()  # create the database (and its folder) the job store lives in
    # The state engine's settings (SQLite WAL, busy timeout, transactional BEGIN) also suit
    # the job store, which shares the file with the sync history.
    store = SQLAlchemyJobStore(engine=create_state_engine(url), tablename=JOBS_TABLE)
    scheduler = scheduler_class(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=dt.UTC,
    )
    store.start(scheduler, "default")
    stored = {job.id: job for job in store.get_all_jobs()}
    for job_id in set(stored) - set(settings.connections):
        store.remove_job(job_id)
    now = dt.datetime.now(dt.UTC)
    for name, conn in settings.connections.items():
        trigger = trigger_for(name, conn.schedule, conn.timezone)
        previous = stored.get(name)
        next_run = now
        unchanged = previous is not None and _same_trigger(previous.trigger, trigger)
        if previous is not None and unchanged and previous.next_run_time is not None:
            next_run = previous.next_run_time
        scheduler.add_job(
            BACKENDS[backend],
            trigger=trigger,
            args=[str(config_path), name],
            id=name,
            name=f"sync {name}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=conn.schedule.misfire_grace_seconds,
            next_run_time=next_run,
        )
    scheduler.add_listener(_on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def _on_job_event(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_MISSED:
        log_event(
            log,
            logging.WARNING,
            "sync_missed",
            connection=event.job_id,
            scheduled=event.scheduled_run_time,
        )
    else:
        log_event(
            log,
            logging.ERROR,
            "sync_job_error",
            connection=event.job_id,
            error=repr(event.exception),
        )


def serve(settings: Settings, config_path: Path, *, backend: str = "embedded") -> None:
    """Run the scheduler in the foreground until SIGTERM or SIGINT.

    Either signal shuts down with ``wait=True``: a sync in progress stops after the batch it is
    applying (recorded ``interrupted``, its watermark unmoved), no new one starts. A second
    signal exits at once; the interrupted run is marked so by the next start and the next run
    replays it safely.
    """
    if not settings.connections:
        raise ConfigError("no connections are configured; add a [connections.NAME] table")
    scheduler = build_scheduler(settings, config_path, backend=backend)

    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping:  # a second signal: the operator insists; the engine is crash-safe
            log_event(log, logging.WARNING, "scheduler_forced_exit", signal=name)
            os._exit(128 + signum)
        stopping = True
        log_event(log, logging.INFO, "scheduler_stopping", signal=name)
        STOPPING.request(f"stopped by {name}")
        scheduler.shutdown(wait=True)

    previous: dict[int, Any] = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    jobs = ", ".join(sorted(settings.connections))
    log_event(
        log,
        logging.INFO,
        "scheduler_started",
        connections=jobs,
        state=settings.resolve_state_url().split("://", 1)[0],
        backend=backend,
    )
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log_event(log, logging.INFO, "scheduler_stopped")
