"""Holding a connection's run lease for as long as a run lasts: take, heartbeat, give back.

Every trigger (``servefirst sync`` and ``provision``, the scheduler, future workers) wraps its
run in ``held_lease``. A background thread renews the lease every third of its time to live;
should a renewal find the lease taken over (this process froze past the expiry), it asks the
run to stop after the batch in progress, so two holders never keep writing side by side.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from servefirst.sync.engine.stop import StopRequest
from servefirst.sync.logs import log_event
from servefirst.sync.state import Lease, LeaseHeldError, LeaseLostError, StateStore

log = logging.getLogger("servefirst.sync.lease")

#: How long a lease lives without a heartbeat: long enough to ride out a slow state database,
#: short enough that a crashed holder on another host blocks its connection for a minute only.
DEFAULT_TTL = dt.timedelta(seconds=60)


@dataclass
class HeldLease:
    """A lease this process holds, renewed in the background until the ``with`` block ends."""

    store: StateStore
    lease: Lease
    ttl: dt.timedelta
    #: Set when the lease was lost; the run given it as ``stop`` ends after its batch.
    stop: StopRequest = field(default_factory=StopRequest)
    _done: threading.Event = field(default_factory=threading.Event)

    def attach_run(self, run_id: int) -> None:
        """Record which run this lease protects (a takeover marks it ``interrupted``)."""
        self.lease = self.store.attach_run(self.lease, run_id)

    def beat(self) -> None:
        """Renew once now; on loss, request the stop."""
        try:
            self.lease = self.store.heartbeat_lease(self.lease, ttl=self.ttl)
        except LeaseLostError as exc:
            self.stop.request(str(exc))
            log_event(log, logging.ERROR, "lease_lost", connection=self.lease.connection)
        except SQLAlchemyError as exc:  # the next beat may get through: keep going
            log_event(
                log,
                logging.WARNING,
                "lease_heartbeat_failed",
                connection=self.lease.connection,
                error=exc.__class__.__name__,
            )

    def _run(self) -> None:
        interval = max(self.ttl.total_seconds() / 3, 0.05)
        while not self._done.wait(interval) and not self.stop.requested:
            self.beat()


def acquire(
    store: StateStore,
    connection: str,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    wait: dt.timedelta | None = None,
    poll_seconds: float = 1.0,
) -> Lease:
    """Take the lease, or wait for it up to ``wait`` (``None``: do not wait).

    Raises:
        LeaseHeldError: someone else holds it (after the wait, if any); it names who.
    """
    deadline = None if wait is None else time.monotonic() + wait.total_seconds()
    while True:
        try:
            return store.acquire_lease(connection, ttl=ttl)
        except LeaseHeldError:
            if deadline is None or time.monotonic() >= deadline:
                raise
        time.sleep(max(min(poll_seconds, deadline - time.monotonic()), 0.0))


@contextmanager
def held_lease(
    store: StateStore,
    connection: str,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    wait: dt.timedelta | None = None,
    stop: StopRequest | None = None,
) -> Iterator[HeldLease]:
    """Hold the connection's lease for the ``with`` block, heartbeating in the background.

    ``stop`` (default: a new one) is requested when the lease is lost; pass the run's own
    so that a signal and a lost lease end the run the same way.
    """
    lease = acquire(store, connection, ttl=ttl, wait=wait)
    held = HeldLease(store, lease, ttl, stop or StopRequest())
    beater = threading.Thread(target=held._run, name=f"lease-{connection}", daemon=True)
    beater.start()
    try:
        yield held
    finally:
        held._done.set()
        beater.join()
        try:
            store.release_lease(held.lease)
        except SQLAlchemyError:  # it expires on its own; the run's outcome is what matters
            log.warning("could not release the lease of %s", connection, exc_info=True)
