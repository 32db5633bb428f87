"""Structured log lines: one event per line, fields machine-readable in both formats."""

from __future__ import annotations

import json
import logging

import pytest

from servefirst.sync.logs import LOGGER_NAME, StderrHandler, configure_logging, log_event


@pytest.mark.parametrize("json_lines", [False, True])
def test_events_carry_their_fields(json_lines: bool, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json_lines=json_lines)
    log = logging.getLogger(f"{LOGGER_NAME}.test")
    log_event(log, logging.INFO, "batch_done", connection="acme corp", read=200, error="")
    log_event(log, logging.DEBUG, "too_detailed", read=1)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    if json_lines:
        data = json.loads(lines[0])
        assert (data["event"], data["connection"], data["read"], data["level"]) == (
            "batch_done",
            "acme corp",
            200,
            "info",
        )
    else:
        assert lines[0].endswith('batch_done connection="acme corp" read=200 error=""')
        assert "level=info logger=servefirst.test" in lines[0]


def test_configuring_twice_keeps_one_handler() -> None:
    configure_logging("warning")
    configure_logging("info")
    handlers = logging.getLogger(LOGGER_NAME).handlers
    assert sum(isinstance(h, StderrHandler) for h in handlers) == 1
    assert logging.getLogger(LOGGER_NAME).level == logging.INFO
