"""servefirst's benchmark: API calls against the theoretical minimum, time, throughput, memory.

    make bench                      # both CRMs, 1,000 / 10,000 / 100,000 engagements
    .venv/bin/python bench/run.py --sizes 1000,10000 --crm salesforce
    .venv/bin/python bench/run.py --quick      # a fast smoke run (300 engagements)

For each CRM sandbox and size: seed N engagements, provision, then measure in a child process
each (so its peak memory, read from /proc in the child, is its own and not the sandbox's):
  full      the first sync, reading and writing everything;
  no-change the next sync, nothing edited in between (it re-reads the records the full sync
            wrote: the watermark is taken before the pull, see the closing notes);
  quiet     one more sync with nothing edited: the steady state of a scheduled sync;
  1% edit   reps set a new Operational Date on 1% of the engagements (real client, batch API);
  naive     (N <= --naive-max) a hand-written script: list ids, then per record read, evaluate
            and write (see naive.py), on the same sandbox.
API calls come from the sandbox's own counters, reset before each phase, and are compared with
the minimum of ``minimum.py``. HubSpot runs again with the Professional tier's rate limits
enforced (N <= --limited-max); Salesforce always runs under a realistic daily budget, which
meters calls per 24 h and imposes no pace, so its wall time is the same with it lifted.
The table is printed and written as Markdown and JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import child
import crm
import evaluate_speed
import minimum
import report
from minimum import Minimum, WriteCounts
from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.service import provision_connection

HERE = Path(__file__).resolve().parent
CRMS = ("salesforce", "hubspot")


def run_child(
    kind: str, sandbox: RunningSandbox, as_of: dt.date, work: Path, *, unpaced: bool = False
) -> dict[str, Any]:
    """Run one sync (or the naive script) in a child process; its result and process time."""
    out = work / f"{kind}-{time.monotonic_ns()}.json"
    log = work / f"{out.stem}.log"
    with log.open("w", encoding="utf-8") as sink:
        started = time.monotonic()
        ours, theirs = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "child.py"),
                kind,
                str(sandbox.config_path),
                as_of.isoformat(),
                str(out),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
            env={**os.environ, child.UNPACED: "1" if unpaced else "0"},
        )
        elapsed = time.monotonic() - started
        sandbox_cpu = _cpu(resource.RUSAGE_SELF) - ours  # the sandbox serves from this process
        child_cpu = _cpu(resource.RUSAGE_CHILDREN) - theirs
    if done.returncode != 0 or not out.exists():
        tail = log.read_text(encoding="utf-8")[-2000:]
        raise RuntimeError(f"{kind} child failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if result.get("status") not in ("ok",):
        raise RuntimeError(f"{kind} sync ended {result.get('status')}: {result.get('error')}")
    result["process_seconds"] = elapsed
    result["sync_cpu"], result["sandbox_cpu"] = child_cpu, sandbox_cpu
    return result


def _cpu(who: int) -> float:
    """User plus system CPU seconds so far (CPU times, unlike peak memory, add up per child)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure(
    kind: str,
    sandbox: RunningSandbox,
    as_of: dt.date,
    work: Path,
    expected: list[str] | None,
    *,
    unpaced: bool = False,
    reread: int = 0,
) -> dict[str, Any]:
    """One phase: reset the counters, run the child, compare its calls with the minimum.

    ``expected`` lists the engagements the sync must read (``None``: all of them, a full sync);
    ``reread`` is how many records the previous phase wrote, which this one lists again.
    """
    ids = crm.engagement_ids(sandbox) if expected is None else expected
    pages, owners = crm.hubspot_pages(sandbox, ids) if sandbox.crm == "hubspot" else ([], 0)
    sandbox.admin.reset_stats()
    result = run_child(kind, sandbox, as_of, work, unpaced=unpaced)
    stats = sandbox.admin.stats()
    read, write = crm.split_calls(stats["by_endpoint"])
    row: dict[str, Any] = {
        "read": read,
        "write": write,
        "calls": read + write,
        "by_endpoint": stats["by_endpoint"],
        "seconds": result["seconds"],
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "sync_cpu": round(result["sync_cpu"], 2),
        "sandbox_cpu": round(result["sandbox_cpu"], 2),
        "counts": result["counts"],
    }
    if kind == "naive":
        return row
    counts = result["counts"]
    writes = WriteCounts(counts["records_updated"], counts["tasks_opened"], counts["tasks_closed"])
    if sandbox.crm == "salesforce":
        least = minimum.salesforce(
            len(ids), writes, incremental=expected is not None, reread=reread
        )
    else:
        least = minimum.hubspot(
            pages, writes, owners=owners, incremental=expected is not None, reread=reread
        )
    row.update(_against_minimum(least, read, write))
    if sandbox.crm == "hubspot":
        row["search_pages"] = max(1, len(pages) + minimum.reread_pages(reread))
        row["floor_seconds"] = minimum.hubspot_floor_seconds(least, row["search_pages"])
    evaluated = counts["engagements_read"]
    row["per_second"] = evaluated / result["seconds"] if evaluated and result["seconds"] else None
    return row


def _against_minimum(least: Minimum, read: int, write: int) -> dict[str, Any]:
    return {
        "min_read": least.read,
        "min_write": least.write,
        "min_calls": least.total,
        "ratio": (read + write) / least.total if least.total else None,
    }


def bench_size(
    name: str, size: int, args: argparse.Namespace, work: Path, *, limited: bool
) -> list[dict[str, Any]]:
    """All phases of one CRM at one size; ``limited``: HubSpot with its rate limits enforced."""
    as_of = dt.datetime.now(dt.UTC).date()
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-{size}-", dir=work))
    sandbox = crm.start(name, folder, size, rate_limits=limited)
    rows: list[dict[str, Any]] = []
    limits = "Professional 190/10 s" if limited else "off"
    unpaced = name == "hubspot" and not limited
    if name == "salesforce":
        limits = f"{crm.SALESFORCE_DAILY_LIMIT:,}/day"
    try:
        settings = load_settings(sandbox.config_path)
        provision_connection(settings, load_playbook(settings), None, dry_run=False)
        phases: list[tuple[str, str, list[str] | None]] = [
            ("full", "sync", None),
            ("no-change", "sync", []),
            ("quiet", "sync", []),
        ]
        written = 0
        for phase, kind, expected in phases:
            row = measure(kind, sandbox, as_of, folder, expected, unpaced=unpaced, reread=written)
            rows.append(_row(name, size, phase, limits, row))
            _progress(rows[-1])
            written = row["counts"]["records_updated"]
        edited = crm.rep_edits(sandbox, as_of)
        row = measure("sync", sandbox, as_of, folder, edited, unpaced=unpaced, reread=written)
        rows.append(_row(name, size, "1% edit", limits, row))
        _progress(rows[-1])
        if not limited and size <= args.naive_max:
            row = measure("naive", sandbox, as_of, folder, None)
            rows.append(_row(name, size, "naive", limits, row))
            _progress(rows[-1])
    finally:
        sandbox.stop()
    return rows


def _row(name: str, size: int, phase: str, limits: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"crm": name, "engagements": size, "phase": phase, "limits": limits, **row}


def _progress(row: dict[str, Any]) -> None:
    print(report.progress_line(row), flush=True)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--crm", choices=(*CRMS, "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="300 engagements, a fast smoke run")
    parser.add_argument("--naive-max", type=int, default=10_000, help="largest naive run")
    parser.add_argument("--limited-max", type=int, default=10_000, help="largest limited run")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--eval-n", type=int, default=50_000, help="pure evaluation sample")
    parser.add_argument(
        "--render", type=Path, help="re-judge and print an earlier results JSON, run nothing"
    )
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        args.sizes, args.eval_n = [300], 5_000
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.render is not None:
        earlier = json.loads(args.render.read_text(encoding="utf-8"))
        args.sizes = earlier["sizes"]
        again = report.assemble(earlier["rows"], earlier["evaluation"], args, 0.0)
        again["when"], again["total_seconds"] = earlier["when"], earlier["total_seconds"]
        print(report.markdown(again))
        return 0
    started = time.monotonic()
    crms = CRMS if args.crm == "both" else (args.crm,)
    speed = evaluate_speed.measure(args.eval_n)
    print(f"pure evaluation: {speed['per_second']:,.0f} engagements/s on one core", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="servefirst-bench-") as tmp:
        work = Path(tmp)
        for name in crms:
            for size in args.sizes:
                rows += bench_size(name, size, args, work, limited=False)
                if name == "hubspot" and size <= args.limited_max:
                    rows += bench_size(name, size, args, work, limited=True)
    results = report.assemble(rows, speed, args, time.monotonic() - started)
    paths = report.write(results, args.out_dir)
    print()
    print(report.markdown(results))
    print(f"written: {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
