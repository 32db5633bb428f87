"""The benchmark harness at a tiny size, so `make bench` cannot rot between releases.

It runs ``bench/run.py`` as `make bench` does (a script, child processes, both sandboxes) on
200 engagements and checks the shape and the sanity of the table, not the timings: these
machines are too noisy for timed assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["full", "no-change", "quiet", "1% edit"]


def _run(tmp_path: Path) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--sizes",
            "200",
            "--eval-n",
            "2000",
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [result] = tmp_path.glob("bench-*.json")
    assert result.with_suffix(".md").exists()
    return json.loads(result.read_text(encoding="utf-8")), done.stdout


def test_bench_table_has_every_phase_with_sane_figures(tmp_path: Path) -> None:
    results, stdout = _run(tmp_path)
    rows = results["rows"]
    by_key = {(r["crm"], r["phase"], "10 s" in r["limits"]): r for r in rows}
    expected = [(crm, phase, False) for crm in ("salesforce", "hubspot") for phase in PHASES]
    expected += [(crm, "naive", False) for crm in ("salesforce", "hubspot")]
    expected += [("hubspot", phase, True) for phase in PHASES]
    assert sorted(by_key) == sorted(expected)
    assert len(rows) == len(expected)

    for key, row in by_key.items():
        assert row["engagements"] == 200
        assert 20 < row["peak_rss_mb"] < 2000, key
        assert row["seconds"] >= 0, key
        if row["phase"] == "naive":
            # one read and one write per record, plus the pages listing the ids
            assert row["read"] > 200 and row["write"] > 100, key
            continue
        assert row["ratio"] >= 1.0, key  # nobody beats the theoretical minimum
        assert row["calls"] == row["read"] + row["write"], key
    for crm in ("salesforce", "hubspot"):
        full, quiet = by_key[(crm, "full", False)], by_key[(crm, "quiet", False)]
        assert full["counts"]["engagements_read"] == 200
        assert full["write"] > 0 and full["per_second"] > 0
        assert full["ratio"] <= 1.5
        assert quiet["calls"] <= 3 and quiet["write"] == 0
        assert by_key[(crm, "1% edit", False)]["counts"]["engagements_read"] == 2
        assert full["calls_vs_naive"] < 0.2  # batches beat one call per record
    for key, row in by_key.items():
        # the rate-limit floor is reported for HubSpot's limited runs only; 200 engagements
        # fit in the first ten-second window, so their floor is zero
        assert (row.get("floor_seconds") is not None) is key[2], key
    assert by_key[("hubspot", "full", True)]["floor_seconds"] == 0

    # Whether the speed target is met depends on the machine's load: the bench reports it,
    # a test must not time it. Here: the target is there and says met or not.
    (speed,) = [t for t in results["targets"] if t["target"].startswith("evaluation >=")]
    assert isinstance(speed["met"], bool)
    assert "| salesforce | 200 | full |" in stdout
    assert "## Targets" in stdout
