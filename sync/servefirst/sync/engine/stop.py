"""A request to stop a run between batches, from a signal handler or a lost lease.

The engine checks it after each batch is applied and recorded, so a stop never leaves a batch
half written: the run ends ``interrupted`` with the watermark where it was, and the next run
re-reads what this one did not finish.
"""

from __future__ import annotations

import threading


class StopRequest:
    """Set once, from any thread or a signal handler; the first reason wins."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason: str | None = None

    def request(self, reason: str) -> None:
        """Ask the run to stop after the batch in progress."""
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason or "stopped"


class RunStopped(Exception):  # noqa: N818 - a request honoured, not an error
    """Raised inside the engine to end a run between batches."""
