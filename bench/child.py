"""One measured sync in its own process, so its peak memory is its own and not the sandbox's.

    python bench/child.py sync  CONFIG AS_OF RESULT.json
    python bench/child.py naive CONFIG AS_OF RESULT.json

``sync`` runs servefirst's sync exactly as the scheduler does (``sync_connection``, the
engagement list of the report turned off, as on a large org); ``naive`` runs the hand-written
script of ``naive.py``. Either writes a small JSON result with the process's peak resident
memory, read from ``VmHWM`` in ``/proc/self/status``: unlike ``getrusage`` (in the child or
through ``wait4`` in the parent), the high-water mark of ``/proc`` starts afresh at ``exec``, so
it does not count the benchmark process (and the sandbox in it) the child was forked from.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from servefirst.config.loader import load_playbook, load_settings
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import sync_connection

#: Set to "1" by the benchmark for HubSpot runs with the rate limits lifted.
UNPACED = "BENCH_HUBSPOT_UNPACED"  # not SERVEFIRST_*: those override settings


def peak_rss_mb() -> float:
    """This process's peak resident memory since ``exec``, in MiB."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status: peak memory needs Linux")


def lift_pacing() -> None:
    """Let a HubSpot connector run unpaced: the "limits lifted" runs measure raw speed.

    The connector paces itself from the rate-limit headers every reply carries (the sandbox
    sends them even when it enforces nothing), so lifting the limits also takes a pacer that
    keeps its books but never sleeps, through the ``pacer`` argument ``connect`` offers for
    this. Budget exhaustion still stops the run.
    """
    from servefirst.connectors import hubspot  # noqa: PLC0415
    from servefirst.connectors.budget import NoLimit  # noqa: PLC0415
    from servefirst.connectors.hubspot.limits import Pacer  # noqa: PLC0415

    paced = hubspot.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        settings = args[1]
        pacer = Pacer(settings.api_budget_share, sleep=lambda _s: None, limiter=NoLimit())
        return paced(*args, pacer=pacer, **kwargs)

    hubspot.connect = connect


def main(argv: list[str]) -> int:
    kind, config, as_of_text, out = argv
    as_of = dt.date.fromisoformat(as_of_text)
    if os.environ.get(UNPACED) == "1":
        lift_pacing()
    settings = load_settings(Path(config))
    playbook = load_playbook(settings)
    result: dict[str, object]
    if kind == "sync":
        report = sync_connection(
            settings, playbook, None, SyncOptions(as_of=as_of, keep_engagements=False)
        )
        result = {
            "status": report.status.value,
            "error": report.error_message,
            "seconds": report.duration_seconds,
            "counts": report.totals.counts(),
            "api_read": report.totals.api_calls_read,
            "api_write": report.totals.api_calls_write,
        }
    elif kind == "naive":
        import naive  # noqa: PLC0415 - a sibling script module, imported by path

        started = time.monotonic()
        counts = naive.run(settings, playbook, as_of)
        result = {"status": "ok", "seconds": time.monotonic() - started, "counts": counts}
    else:
        raise SystemExit(f"unknown kind {kind!r}: use sync or naive")
    result["peak_rss_mb"] = peak_rss_mb()
    Path(out).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
