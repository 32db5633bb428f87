"""Structured logs: one event per line, as ``key=value`` pairs or as JSON.

A scheduler's output is read by log shippers, not people, so every line carries the event name
and its fields separately. Callers pass only counts, ids and CRM messages: settings objects and
connector internals are never logged, which is how no secret reaches a log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

LOGGER_NAME = "servefirst"


def _text(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return json.dumps(text)
    return text


def log_event(logger: logging.Logger, level: int, event: str, **fields: object) -> None:
    """Log ``event`` with ``fields``; the message itself reads as ``event k=v k=v``."""
    if not logger.isEnabledFor(level):
        return
    message = " ".join([event, *(f"{k}={_text(v)}" for k, v in fields.items())])
    logger.log(level, message, extra={"event": event, "fields": fields})


class KeyValueFormatter(logging.Formatter):
    """``time=... level=... logger=... event k=v`` lines."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="seconds")
        line = f"time={stamp} level={record.levelname.lower()} logger={record.name} "
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the event's fields at top level."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", record.getMessage()),
        }
        data.update(getattr(record, "fields", {}))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners and daemons swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break a sync
            self.handleError(record)


def configure_logging(level: str = "info", *, json_lines: bool = False) -> None:
    """Send servefirst's logs to stderr, once per process (repeated calls adjust it)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    formatter = JsonFormatter() if json_lines else KeyValueFormatter()
    handler = next((h for h in logger.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        logger.addHandler(handler)
    handler.setFormatter(formatter)
    # Records still propagate: an application embedding servefirst (or a test's log capture)
    # sees them too; a plain CLI process has no root handler, so nothing prints twice.


def silence_logging() -> None:
    """No log lines at all (a terminal without ``-v``, or ``-q``).

    A null handler rather than no handler: without any, Python's last-resort handler would
    still print warnings to stderr in its own format.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.CRITICAL + 1)
    for handler in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(handler)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
