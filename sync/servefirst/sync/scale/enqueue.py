"""Sending work to the workers: the scheduler's job in ``--backend dramatiq`` mode, and the API.

The scheduler stays a single process that only enqueues: its job is a plain module-level
function with string arguments (so APScheduler's job store can pickle it), which sends one
message and returns at once. The worker that takes it runs the sync under the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from servefirst.config.loader import load_settings
from servefirst.config.settings import Settings
from servefirst.sync.logs import log_event
from servefirst.sync.scale.broker import declare_actors, make_broker

log = logging.getLogger("servefirst.sync.scale")


def enqueue_sync(settings: Settings, connection: str, *, at: dt.datetime | None = None) -> str:
    """Queue one sync of ``connection``; returns the message id."""
    settings.connection(connection)  # an unknown name is a ConfigError here, not in a worker
    requested = (at or dt.datetime.now(dt.UTC)).isoformat()
    broker = make_broker(settings.scale)
    try:
        actors = declare_actors(broker, settings.scale)
        message = actors.sync.send(connection, requested)
    finally:
        broker.close()
    log_event(log, logging.INFO, "sync_enqueued", connection=connection, message=message.message_id)
    return message.message_id


def enqueue_scheduled_sync(config_path: str, connection: str) -> str:
    """The scheduler's job in dramatiq mode; returns the message id, never raises."""
    try:
        return enqueue_sync(load_settings(Path(config_path)), connection)
    except Exception:
        log.exception("could not enqueue the sync of %s", connection)
        return ""
