"""``servefirst sandbox serve`` as a user runs it: a subprocess, one JSON line, then SIGTERM."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any

from simple_salesforce.api import Salesforce

from servefirst.connectors.salesforce.sandbox import client_session

CLI = "from servefirst.sync.cli import main; main()"


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        process.kill()
        raise AssertionError("the sandbox printed no ready line in time")
    return process.stdout.readline()


def test_serve_prints_one_ready_line_then_serves_until_terminated(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    command = [sys.executable, "-c", CLI, "sandbox", "serve", "--crm", "salesforce"]
    command += [
        "--seed",
        "demo",
        "--engagements",
        "25",
        "--data",
        str(data),
        "--dir",
        str(tmp_path),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready: dict[str, Any] = json.loads(_read_line(process, 60))
        assert set(ready) == {"crm", "url", "token", "ca_bundle", "config"}
        assert ready["crm"] == "salesforce" and ready["url"].startswith("https://127.0.0.1:")
        assert Path(ready["config"]) == tmp_path / "servefirst.toml"
        sf = Salesforce(
            instance_url=ready["url"],
            session_id=ready["token"],
            version="59.0",
            session=client_session(Path(ready["ca_bundle"])),
        )
        count = sf.query("SELECT COUNT() FROM Opportunity")["totalSize"]
        assert count == 40 + 25
        sf.session.close()
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out == ""  # nothing after the ready line
    assert data.stat().st_size > 0


def test_serve_hubspot_reports_when_unavailable_or_starts(tmp_path: Path) -> None:
    command = [sys.executable, "-c", CLI, "sandbox", "serve", "--crm", "hubspot"]
    command += ["--seed", "none", "--dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(process, 60)
        if line:
            assert json.loads(line)["crm"] == "hubspot"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    if not line:
        assert process.returncode == 2
        assert "hubspot sandbox is not available" in err
