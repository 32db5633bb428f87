"""Scale-out benchmark: many orgs synced by 1, 2 and 4 Dramatiq worker processes.

    .venv/bin/python bench/scaleout.py                     # 40 orgs x 2,000, workers 1,2,4
    .venv/bin/python bench/scaleout.py --orgs 8 --engagements 300 --workers 1,2   # quick

For each worker count the benchmark starts a fresh farm of sandbox orgs in its own process
(half Salesforce, half HubSpot with the Professional tier's rate limits enforced), each
answering every request after ``--latency-ms`` (150 ms, as real CRM APIs answer), provisions
them, writes one config with every org as a connection, a fresh PostgreSQL state database and
a fresh Redis namespace; then starts the workers (one run at a time each), queues one sync of
every org and waits until all have finished. It reports wall time, API calls per org, 429s
received, the peak memory of each worker, duplicate open tasks (read back through the real
clients: must be 0), and where the CPU went: with latency and rate limits binding, four
workers should finish at least three times faster than one, until this machine's two cores
are busy. Results go to bench/results/scaleout.{json,md}.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import crm
from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.service import provision_connection
from servefirst.sync.state import StateStore

HERE = Path(__file__).resolve().parent
SERVEFIRST = str(Path(sys.executable).with_name("servefirst"))
POSTGRES = os.environ.get(
    "SERVEFIRST_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("SERVEFIRST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_SPEEDUP = 3.0
#: A whole run of many orgs; a worker that never finishes fails the benchmark instead.
DEADLINE_SECONDS = 3600
CORES = os.cpu_count() or 1


def _farm(orgs: int, engagements: int, latency_ms: int, work: Path) -> list[RunningSandbox]:
    """Start and provision the orgs; every later request waits ``latency_ms``."""
    farm: list[RunningSandbox] = []
    for index in range(orgs):
        kind = "salesforce" if index % 2 == 0 else "hubspot"
        sandbox = crm.start(kind, work / f"org{index:02d}", engagements, rate_limits=True)
        settings = load_settings(sandbox.config_path)
        name = next(iter(settings.connections))
        provision_connection(settings, load_playbook(settings, name), name, dry_run=False)
        sandbox.admin.inject("latency", count=10**9, latency_ms=latency_ms)
        sandbox.admin.reset_stats()
        farm.append(sandbox)
    return farm


def _config(farm: list[RunningSandbox], state_url: str, namespace: str, work: Path) -> Path:
    """One config naming every org as a connection, sharing the state database and broker."""
    parts = [
        'playbook = "builtin:prime"',
        f'state_url = "{state_url}"',
        'log_level = "warning"',
        "",
        "[scale]",
        f'broker_url = "{REDIS}"',
        f'namespace = "{namespace}"',
        "threads = 1",
        "max_retries = 2",
        "",
    ]
    for index, sandbox in enumerate(farm):
        text = sandbox.config_path.read_text(encoding="utf-8")
        tables = text[text.index("[connections.") :]
        parts.append(tables.replace(f"[connections.{sandbox.crm}", f"[connections.org{index:02d}"))
    path = work / "fleet.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    path.chmod(0o600)
    return path


def _database() -> str:
    import psycopg  # noqa: PLC0415

    name = f"servefirst_bench_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES.rsplit("/", 1)[0] + "/" + name


def _drop(url: str) -> None:
    import psycopg  # noqa: PLC0415

    admin = POSTGRES.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _proc(pid: int) -> tuple[float, int]:
    """CPU seconds and peak resident KiB of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return cpu, peak


def _open_duplicates(sandbox: RunningSandbox) -> int:
    """Open tasks sharing a key, read back through the CRM's own client."""
    from servefirst.connectors.hubspot.sandbox.desk import HubSpotDesk  # noqa: PLC0415
    from servefirst.connectors.salesforce.sandbox.desk import SalesforceDesk  # noqa: PLC0415

    settings = load_settings(sandbox.config_path)
    desk: Any = (
        SalesforceDesk(sandbox, settings)
        if sandbox.crm == "salesforce"
        else HubSpotDesk(sandbox, settings)
    )
    try:
        keys = collections.Counter(t.key for t in desk.snapshot().open_tasks)
    finally:
        desk.close()
    return sum(n - 1 for n in keys.values() if n > 1)


def one_round(workers: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """A fresh farm synced by ``workers`` worker processes; the figures of that run."""
    work.mkdir(parents=True)
    farm = _farm(args.orgs, args.engagements, args.latency_ms, work)
    state_url = _database()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    config = _config(farm, state_url, namespace, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}
    procs: list[subprocess.Popen[bytes]] = []
    for index in range(workers):
        with (work / f"worker{index}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [SERVEFIRST, "worker", "-c", str(config), "--threads", "1"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    time.sleep(2.0)  # let the workers import and connect before the clock starts
    ours = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    subprocess.run([SERVEFIRST, "-q", "enqueue", "-c", str(config), "--all"], env=env, check=True)
    store = StateStore.open(state_url)
    try:
        while True:
            runs = store.list_runs(limit=10 * args.orgs)
            done = [r for r in runs if r.finished_at is not None and r.status.value != "failed"]
            if len({r.connection for r in done}) >= args.orgs:
                break
            if time.monotonic() - started > DEADLINE_SECONDS:
                raise SystemExit("the workers did not finish within the deadline")
            time.sleep(0.25)
        wall = time.monotonic() - started
    finally:
        store.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    farm_cpu = (after.ru_utime - ours.ru_utime) + (after.ru_stime - ours.ru_stime)
    worker_stats = [_proc(p.pid) for p in procs]
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=120)
    for sandbox in farm:
        sandbox.admin.clear_faults()
    durations = [r.duration_seconds or 0.0 for r in runs if r.finished_at is not None]
    by_crm: dict[str, list[int]] = collections.defaultdict(list)
    statuses = collections.Counter(r.status.value for r in runs)
    for r in runs:
        if r.finished_at is not None:
            by_crm[r.crm].append(r.totals.api_calls_read + r.totals.api_calls_write)
    refused = 0
    for sandbox in farm:
        if sandbox.crm == "hubspot":
            limiter: Any = sandbox.server.admin_api.limiter  # type: ignore[attr-defined]
            refused += sum(limiter.refused.values())
    duplicates = sum(_open_duplicates(s) for s in farm)
    for sandbox in farm:
        sandbox.stop()
    _drop(state_url)
    worker_cpu = sum(cpu for cpu, _ in worker_stats)
    return {
        "workers": workers,
        "orgs": args.orgs,
        "engagements_per_org": args.engagements,
        "wall_seconds": round(wall, 1),
        "runs": dict(statuses),
        "calls_per_org": {k: round(sum(v) / len(v), 1) for k, v in sorted(by_crm.items())},
        "http_429": refused,
        "duplicate_open_tasks": duplicates,
        "peak_rss_mb_per_worker": [round(peak / 1024, 1) for _, peak in worker_stats],
        "cpu_seconds": {"workers": round(worker_cpu, 1), "sandboxes": round(farm_cpu, 1)},
        "cpu_busy_share": round((worker_cpu + farm_cpu) / (wall * CORES), 2),
        # Where a worker's time went: inside runs (as the history times them) or between.
        "run_seconds_mean": round(sum(durations) / max(1, len(durations)), 2),
        "busy_share_in_runs": round(sum(durations) / (wall * workers), 2),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = results["rounds"]
    lines = [
        "# Scale-out benchmark",
        "",
        f"{results['orgs']} orgs (half Salesforce, half HubSpot Professional with its rate "
        f"limits enforced), {results['engagements']:,} engagements each, "
        f"{results['latency_ms']} ms API latency; one full sync of every org. "
        f"Machine: {CORES} cores. Run {results['finished']}.",
        "",
        "| workers | wall s | speed-up | calls/org SF | calls/org HS | 429s | duplicates | "
        "peak MB/worker | CPU busy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        calls = row["calls_per_org"]
        lines.append(
            f"| {row['workers']} | {row['wall_seconds']} | {row['speedup']}x | "
            f"{calls.get('salesforce', '-')} | {calls.get('hubspot', '-')} | {row['http_429']} | "
            f"{row['duplicate_open_tasks']} | {max(row['peak_rss_mb_per_worker'])} | "
            f"{int(row['cpu_busy_share'] * 100)}% |"
        )
    lines += ["", "## Targets", ""]
    lines += [
        f"- {'met' if t['met'] else 'NOT met'}: {t['target']} ({t['detail']})"
        for t in results["targets"]
    ]
    lines += ["", results["cpu_note"], ""]
    return "\n".join(lines)


def targets(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first, last = rounds[0], rounds[-1]
    speedup = first["wall_seconds"] / last["wall_seconds"]
    return [
        {
            "target": f">= {TARGET_SPEEDUP}x faster at {last['workers']} workers than at "
            f"{first['workers']}",
            "met": speedup >= TARGET_SPEEDUP,
            "detail": f"{speedup:.2f}x",
        },
        {
            "target": "0 duplicate open tasks",
            "met": all(r["duplicate_open_tasks"] == 0 for r in rounds),
            "detail": ", ".join(str(r["duplicate_open_tasks"]) for r in rounds),
        },
        {
            "target": "0 HTTP 429 received",
            "met": all(r["http_429"] == 0 for r in rounds),
            "detail": ", ".join(str(r["http_429"]) for r in rounds),
        },
    ]


def cpu_note(rounds: list[dict[str, Any]]) -> str:
    busy = [f"{r['workers']} worker(s): {int(r['cpu_busy_share'] * 100)}%" for r in rounds]
    bound = [r["workers"] for r in rounds if r["cpu_busy_share"] >= 0.85]
    where = (
        f"the CPU becomes the limit from {bound[0]} worker(s) on"
        if bound
        else "the CPU never became the limit: latency and rate limits bound every round"
    )
    # Each run costs about the same CPU and wall time whatever the worker count, so the CPU
    # binds once workers x (CPU per run / wall per run) reaches the cores.
    last = rounds[-1]
    cpu_per_run = (last["cpu_seconds"]["workers"] + last["cpu_seconds"]["sandboxes"]) / last["orgs"]
    limit = CORES * last["run_seconds_mean"] / cpu_per_run if cpu_per_run else float("inf")
    return (
        f"CPU busy share of this {CORES}-core machine (workers plus the sandboxes, which run "
        f"in the benchmark's process): {'; '.join(busy)}. So {where}. A run costs about "
        f"{cpu_per_run:.1f} CPU-seconds (worker and sandbox) for {last['run_seconds_mean']:.1f} s "
        f"of wall time, so on {CORES} cores the CPU becomes the limit at about "
        f"{limit:.0f} workers."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=40)
    parser.add_argument("--engagements", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="servefirst-scaleout-") as tmp:
        for workers in counts:
            row = one_round(workers, args, Path(tmp) / f"w{workers}")
            rounds.append(row)
            print(json.dumps(row), flush=True)
    for row in rounds:
        row["speedup"] = round(rounds[0]["wall_seconds"] / row["wall_seconds"], 2)
    results = {
        "orgs": args.orgs,
        "engagements": args.engagements,
        "latency_ms": args.latency_ms,
        "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "targets": targets(rounds),
        "cpu_note": cpu_note(rounds),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "scaleout.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (args.out_dir / "scaleout.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
