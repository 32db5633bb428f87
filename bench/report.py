"""The benchmark's table: ratios against the naive script, the targets, Markdown and JSON.

The JSON keeps every figure (and the calls per endpoint) so runs can be compared over time;
the Markdown is the table a person reads, followed by the verdict on each target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
from pathlib import Path
from typing import Any

from crm import SALESFORCE_DAILY_LIMIT

TARGET_RATIO = 1.1
TARGET_QUIET_CALLS = 3
TARGET_EVAL_PER_SECOND = 20_000
TARGET_FLOOR_RATIO = 1.2
#: Peak memory counts as flat in N when the largest size needs at most this much more.
FLAT_MEMORY = 1.25


NOTES = (
    "calls: every API request the sandbox counted (its own counters, reset before each "
    "phase; Salesforce's versions list, which costs no API request, left out); "
    "min: the theoretical minimum defined in bench/minimum.py",
    "sync cpu s / sandbox cpu s: CPU the child process (start-up included) and the sandbox "
    "(serving from the benchmark's process) spent in the phase: where the wall time went",
    "wall s: the sync itself inside its child process (interpreter start-up excluded); "
    "eng/s: engagements read and evaluated per second of that wall time; peak MB: the child's "
    "VmHWM",
    "floor s (HubSpot with Professional limits on): the least time rolling windows of 190 "
    "calls/10 s and 5 searches/s allow for the minimum's calls (each window's worth sent at "
    "once: call n not before 10 * (n // 190) s)",
    "Salesforce meters a rolling 24 h budget and imposes no pace: no floor, and the same wall "
    "time with the budget lifted",
    "HubSpot with limits off: the sandbox enforces nothing and the connector's pacer (which "
    "follows the rate-limit headers every reply carries) never sleeps: raw speed",
    "incremental_overlap_seconds = 0 (the sandboxes have no index lag and share our clock)",
    "no-change: the sync right after the full one lists the records the full sync wrote again "
    "(the watermark is the CRM time read before the pull); its minimum is the re-read minimum "
    "(the pages that list them, nothing around them); quiet: the next one",
    "naive: list ids, then one read and one write call per record (bench/naive.py): a lower "
    "bound for such a script, which would also need task and sponsor calls",
)

COLUMNS = (
    ("CRM", "crm"),
    ("N", "engagements"),
    ("phase", "phase"),
    ("limits", "limits"),
    ("read", "read"),
    ("write", "write"),
    ("min", "min_calls"),
    ("calls/min", "ratio"),
    ("wall s", "seconds"),
    ("eng/s", "per_second"),
    ("sync cpu s", "sync_cpu"),
    ("sandbox cpu s", "sandbox_cpu"),
    ("peak MB", "peak_rss_mb"),
    ("floor s", "floor_seconds"),
    ("wall/floor", "floor_ratio"),
    ("calls/naive", "calls_vs_naive"),
    ("wall/naive", "wall_vs_naive"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def progress_line(row: dict[str, Any]) -> str:
    """One finished phase, as it completes (the full table comes at the end)."""
    return " | ".join(f"{title} {_fmt(row.get(key))}" for title, key in COLUMNS)


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    naive = {(r["crm"], r["engagements"]): r for r in rows if r["phase"] == "naive"}
    for row in rows:
        floor = row.get("floor_seconds")
        if row["limits"].startswith("Professional") and floor is not None:
            # a floor of 0 (everything fits in the first window) has no meaningful ratio
            row["floor_ratio"] = row["seconds"] / floor if floor > 0 else None
        else:
            row["floor_seconds"] = None
        base = naive.get((row["crm"], row["engagements"]))
        if base is not None and row["phase"] != "naive" and row["limits"] == base["limits"]:
            row["calls_vs_naive"] = row["calls"] / base["calls"] if base["calls"] else None
            row["wall_vs_naive"] = row["seconds"] / base["seconds"] if base["seconds"] else None


def _label(row: dict[str, Any]) -> str:
    limited = ", limits on" if "10 s" in row["limits"] else ""
    return f"{row['crm']} {row['engagements']:,} {row['phase']}{limited}"


def _memory_target(ours: list[dict[str, Any]]) -> dict[str, Any]:
    """Peak memory per size (the largest of a size's phases), judged on the two largest sizes.

    Below one query page and engine batch (2,000 engagements) memory grows with N by design;
    streaming means it stops growing after that, so the verdict compares the largest two sizes.
    """
    series, flat, judged = [], True, False
    for name in sorted({r["crm"] for r in ours}):
        peaks: dict[int, float] = {}
        for r in ours:
            if r["crm"] == name and "10 s" not in r["limits"]:
                peaks[r["engagements"]] = max(peaks.get(r["engagements"], 0.0), r["peak_rss_mb"])
        sizes = sorted(peaks)
        series.append(f"{name}: " + ", ".join(f"{peaks[n]:.0f} MB at {n:,}" for n in sizes))
        if len(sizes) >= 2:
            judged = True
            growth = peaks[sizes[-1]] / peaks[sizes[-2]]
            flat = flat and growth <= FLAT_MEMORY
            series[-1] += f" (x{growth:.2f} from {sizes[-2]:,} to {sizes[-1]:,})"
    return {
        "target": f"peak memory flat in N (largest size <= {FLAT_MEMORY} x the next)",
        "met": flat if judged else None,
        "detail": "; ".join(series),
    }


def _targets(rows: list[dict[str, Any]], per_second: float) -> list[dict[str, Any]]:
    ours = [r for r in rows if r["phase"] != "naive"]
    worst = max(ours, key=lambda r: r.get("ratio") or 0.0, default=None)
    over = [r for r in ours if (r.get("ratio") or 0.0) > TARGET_RATIO]
    rest = [r for r in ours if r["phase"] != "no-change"]
    best = max(rest, key=lambda r: r.get("ratio") or 0.0, default=None)
    quiet = [r for r in ours if r["phase"] == "quiet"]
    paced = [r for r in ours if r.get("floor_ratio") is not None]
    slow = [r for r in paced if r["floor_ratio"] > TARGET_FLOOR_RATIO]
    loud = [r for r in quiet if r["calls"] > TARGET_QUIET_CALLS or r["write"] > 0]
    targets: list[dict[str, Any]] = [
        {
            "target": f"API calls <= {TARGET_RATIO} x the minimum",
            "met": not over,
            "detail": (
                f"worst {worst['ratio']:.2f} ({_label(worst)}); over target: "
                + (", ".join(_label(r) for r in over) or "none")
                + (
                    f"; every phase but no-change: worst {best['ratio']:.2f} ({_label(best)})"
                    if best and best.get("ratio")
                    else ""
                )
            )
            if worst and worst.get("ratio")
            else "no rows",
        },
        {
            "target": f"quiet sync <= {TARGET_QUIET_CALLS} calls and 0 writes",
            "met": not loud,
            "detail": "; ".join(
                f"{_label(r)}: {r['calls']} calls, {r['write']} writes" for r in quiet
            ),
        },
        {
            "target": f"rate-limited sync <= {TARGET_FLOOR_RATIO} x the floor",
            "met": not slow if paced else None,
            "detail": "; ".join(f"{_label(r)}: {r['floor_ratio']:.2f}" for r in paced)
            or "no rate-limited run with a floor",
        },
    ]
    targets.append(_memory_target(ours))
    targets.append(
        {
            "target": f"evaluation >= {TARGET_EVAL_PER_SECOND:,} engagements/s per core",
            "met": per_second >= TARGET_EVAL_PER_SECOND,
            "detail": f"{per_second:,.0f} engagements/s (pure evaluation, one core)",
        }
    )
    return targets


def assemble(
    rows: list[dict[str, Any]], speed: dict[str, float], args: argparse.Namespace, seconds: float
) -> dict[str, Any]:
    """Everything one run produced, ready for Markdown and JSON."""
    _add_ratios(rows)
    skipped = [
        f"HubSpot rate-limited runs only up to {args.limited_max:,} engagements "
        "(above that the limits alone would take minutes per sync)",
        f"naive runs only up to {args.naive_max:,} engagements",
        *NOTES,
    ]
    budget = [r for r in rows if r["crm"] == "salesforce" and r["phase"] != "naive"]
    if budget:
        top = max(budget, key=lambda r: r["calls"])
        skipped.append(
            f"Salesforce's daily budget ({top['limits']}): the largest sync "
            f"({top['engagements']:,} {top['phase']}) used {top['calls']:,} calls, "
            f"{100 * top['calls'] / SALESFORCE_DAILY_LIMIT:.2f}% of it"
        )
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "sizes": args.sizes,
        "evaluation": speed,
        "rows": rows,
        "targets": _targets(rows, speed["per_second"]),
        "notes": skipped,
        "total_seconds": seconds,
    }


def _cpus() -> int:
    import os  # noqa: PLC0415

    return len(os.sched_getaffinity(0))


def markdown(results: dict[str, Any]) -> str:
    """The table and the verdicts, as Markdown."""
    lines = [
        f"# servefirst benchmark, {results['when']}",
        "",
        f"Pure evaluation: {results['evaluation']['per_second']:,.0f} engagements/s on one core "
        f"({results['evaluation']['engagements']:,} engagements).",
        "",
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for _, k in COLUMNS) + " |" for r in results["rows"]]
    lines += ["", "## Targets", ""]
    for target in results["targets"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[target["met"]]
        lines.append(f"- {target['target']}: **{verdict}** ({target['detail']})")
    lines += ["", "## Notes", ""]
    lines += [f"- {note}" for note in results["notes"]]
    lines.append(f"- whole run: {results['total_seconds'] / 60:.1f} minutes")
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``bench-<stamp>.md`` and ``.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    md = folder / f"bench-{stamp}.md"
    js = folder / f"bench-{stamp}.json"
    md.write_text(markdown(results), encoding="utf-8")
    js.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return md, js
