"""Messages Dramatiq gave up on land in its dead-letter queue *and* in the run history.

An operator watches ``servefirst runs list``, not Redis keys: a sync that failed its last
attempt is recorded there as a ``dead_letter`` run of its connection, with the attempts and
the last error, so a silent fleet is as visible as a silent scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dramatiq

from servefirst.sync.alerts import send_alert
from servefirst.sync.engine.report import RunReport
from servefirst.sync.logs import log_event
from servefirst.sync.state import RunStatus, RunTotals

log = logging.getLogger("servefirst.sync.scale")


def _connection_of(message: dramatiq.MessageProxy) -> str | None:
    """The connection a message is about (a revert names a run; its row names the connection)."""
    if message.actor_name in ("servefirst.sync", "servefirst.provision") and message.args:
        return str(message.args[0])
    return None


class DeadLetterRecorder(dramatiq.Middleware):
    """Records each message that failed for good as a ``dead_letter`` run of its connection.

    Dramatiq calls ``after_process_message`` hooks in reverse order of installation, so this
    one runs before the retry middleware has decided: it only keeps the error. The decision
    shows in ``after_nack``, which the worker calls for a message given up on.
    """

    def __init__(self) -> None:
        self._errors: dict[str, str] = {}

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        del broker, result
        if exception is None:
            self._errors.pop(message.message_id, None)
        else:
            self._errors[message.message_id] = str(exception) or exception.__class__.__name__

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        del broker
        error = self._errors.pop(message.message_id, "rejected")
        attempts = int(message.options.get("retries", 0))
        try:
            record_dead_letter(message.actor_name, _connection_of(message), attempts, error)
        except Exception:  # the broker's own dead-letter queue still holds the message
            log.exception("could not record dead-lettered message %s", message.message_id)


def record_dead_letter(actor: str, connection: str | None, attempts: int, error: str) -> None:
    """Write the dead-letter row into the worker's state database."""
    from servefirst.sync.scale.jobs import worker_settings  # noqa: PLC0415 - avoids a cycle
    from servefirst.sync.service import opened_store  # noqa: PLC0415

    settings = worker_settings()
    if connection is None or connection not in settings.connections:
        log_event(log, logging.ERROR, "dead_letter", actor=actor, attempts=attempts, error=error)
        return
    conn = settings.connections[connection]
    what = actor.rsplit(".", 1)[-1]
    message = f"{what} gave up after {attempts} attempts (dead-letter queue): {error}"
    today = dt.datetime.now(dt.UTC).date()
    with opened_store(settings) as store:
        run_id = store.start_run(connection, conn.crm, today, dry_run=False, full_scan=False)
        store.finish_run(
            run_id,
            status=RunStatus.DEAD_LETTER,
            totals=RunTotals(),
            duration_seconds=0.0,
            error_message=message,
        )
    log_event(log, logging.ERROR, "dead_letter", connection=connection, run_id=run_id, error=error)
    report = RunReport(
        run_id=run_id,
        connection=connection,
        crm=conn.crm,
        dry_run=False,
        full_scan=False,
        as_of=today,
        status=RunStatus.DEAD_LETTER,
        error_message=message,
    )
    send_alert(report, conn, settings.base_dir)
