"""The sandbox's notion of now, which a test can run ahead of or behind this machine's clock.

A real CRM's clock is not the machine's: a sync whose watermark comes from the local clock
loses edits when the two disagree by more than the overlap. Each sandbox therefore keeps its own
``SandboxClock`` (real time plus an offset set through ``POST /__sandbox__/clock``). Everything
the sandbox stamps while serving a request (the ``Date`` header, modified stamps, created
dates, ``TODAY`` in queries) reads ``now()``, which finds the clock of the sandbox serving the
current request through a context variable the middleware sets, so two sandboxes in one process
keep separate clocks. Outside a request (in-process seeding) ``now()`` is the real clock.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextvars import ContextVar, Token
from email.utils import format_datetime


class SandboxClock:
    """Real UTC time shifted by an adjustable offset."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = dt.timedelta(0)

    @property
    def offset(self) -> dt.timedelta:
        with self._lock:
            return self._offset

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = dt.timedelta(seconds=seconds)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    def http_date(self) -> str:
        """``now()`` as an HTTP ``Date`` header value (whole seconds, GMT)."""
        return format_datetime(self.now().replace(microsecond=0), usegmt=True)


_current: ContextVar[SandboxClock | None] = ContextVar("sandbox_clock", default=None)


def now() -> dt.datetime:
    """The time of the sandbox serving the current request, else the real UTC time."""
    clock = _current.get()
    return clock.now() if clock is not None else dt.datetime.now(dt.UTC)


def serving(clock: SandboxClock) -> Token[SandboxClock | None]:
    """Make ``clock`` the current one until ``restore`` is given the returned token."""
    return _current.set(clock)


def restore(token: Token[SandboxClock | None]) -> None:
    _current.reset(token)
