"""``servefirst worker``: a Dramatiq worker process running queued syncs until stopped.

Run as many as the CRMs' rate limits and this machine allow, on as many hosts as needed; all
of them share the broker and the state database. SIGTERM (or Ctrl-C) asks each run in
progress to stop after its current batch (recorded ``interrupted``, watermark unmoved; its
message goes back to the queue for another worker), then the worker exits. A worker killed
outright stops heartbeating: after ``redelivery_seconds`` the broker hands its unfinished
messages to another worker, whose run takes the dead holder's lease over.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import dramatiq

from servefirst.config.settings import Settings
from servefirst.connectors.budget import RedisLimiter, use_limiter
from servefirst.sync.logs import log_event
from servefirst.sync.scale.broker import declare_actors, make_broker, poll_ms
from servefirst.sync.scale.jobs import stop_all, use_config

log = logging.getLogger("servefirst.sync.scale")

#: How long a stopping worker waits for its runs to reach the end of a batch (ms).
_STOP_TIMEOUT_MS = 10 * 60 * 1000


def serve_worker(settings: Settings, config_path: Path, *, threads: int | None = None) -> None:
    """Consume the deployment's queue in this process until SIGTERM or SIGINT."""
    use_config(config_path)
    share_budgets(settings)
    broker = make_broker(settings.scale)
    declare_actors(broker, settings.scale)
    count = threads or settings.scale.threads
    worker = dramatiq.Worker(broker, worker_threads=count, worker_timeout=poll_ms())
    # Take no more messages than there are threads to run them: a run can last minutes, and a
    # message waiting in one worker's buffer is a message an idle worker cannot start.
    worker.queue_prefetch = count
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log_event(log, logging.INFO, "worker_stopping", signal=signal.Signals(signum).name)
        stop_all("the worker is stopping")
        stopping.set()

    previous: dict[int, Any] = {
        sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    worker.start()
    log_event(log, logging.INFO, "worker_started", threads=count, queue=settings.scale.namespace)
    try:
        stopping.wait()
    finally:
        worker.stop(timeout=_STOP_TIMEOUT_MS)
        broker.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log_event(log, logging.INFO, "worker_stopped")


def share_budgets(settings: Settings) -> None:
    """Make this worker's connectors spend each org's API budget in Redis, with the others.

    Without it, four workers syncing four connections of one HubSpot portal would each allow
    themselves the portal's whole ten-second window.
    """
    url = settings.scale.shared_limiter_url()
    if url is None:
        log_event(
            log,
            logging.WARNING,
            "budget_not_shared",
            reason="no Redis for the API budget: set [scale] limiter_url",
        )
        return
    use_limiter(RedisLimiter.from_url(url, settings.scale.namespace))
