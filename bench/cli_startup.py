"""How long ``servefirst --help`` (and a few other cheap commands) take to start, in wall time.

A person types ``servefirst --help`` to find their way; a slow start makes every command feel
slow. This script runs each command several times in fresh processes and prints the minimum,
median and maximum wall time, plus which heavy libraries the root help imports (it should
import none: commands import what they need when they run). Figures, not a pass/fail test:
these machines are too noisy for timed assertions.

Usage: ``python bench/cli_startup.py [--runs 15]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["sync", "--help"], ["doctor", "--help"], ["--version"])
HEAVY = (
    "pydantic",
    "sqlalchemy",
    "ruamel",
    "simple_salesforce",
    "hubspot",
    "requests",
    "apscheduler",
    "starlette",
    "uvicorn",
)
PROBE = """
import sys
sys.argv = ["servefirst", "--help"]
from servefirst.sync.cli import main
try:
    main()
except SystemExit:
    pass
print(",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def _executable() -> list[str]:
    found = Path(sys.executable).parent / "servefirst"
    if found.exists():
        return [str(found)]
    which = shutil.which("servefirst")
    if which is None:
        raise SystemExit("servefirst is not installed in this environment")
    return [which]


def _time(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    args = parser.parse_args()
    exe = _executable()
    print(f"{'command':<28} {'min s':>7} {'median s':>9} {'max s':>7}")
    for command in COMMANDS:
        times = _time([*exe, *command], args.runs)
        label = "servefirst " + " ".join(command)
        print(f"{label:<28} {min(times):>7.3f} {statistics.median(times):>9.3f} {max(times):>7.3f}")
    baseline = _time([sys.executable, "-c", "pass"], args.runs)
    print(f"{'python -c pass':<28} {min(baseline):>7.3f} {statistics.median(baseline):>9.3f}")
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=False,
    )
    loaded = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else ""
    print(f"heavy libraries imported by `servefirst --help`: {loaded or 'none'}")


if __name__ == "__main__":
    main()
