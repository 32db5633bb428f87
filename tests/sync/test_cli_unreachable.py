"""``servefirst sync`` against a CRM it cannot reach: exit 3 and one line naming host, port, fix.

The connectors raise typed errors for these (tested in ``tests/connectors``); this is what a
person at the terminal sees: with ``-q``, stderr is exactly that one line, and the history
records the failed run with the same words.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servefirst.connectors.salesforce.sandbox import start_sandbox as start_salesforce
from servefirst.sync.cli import app

runner = CliRunner()


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _q(value: object) -> str:
    return json.dumps(str(value))


def test_a_dead_port_is_one_line_with_host_port_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEAD_TOKEN", "pat-na1-dead")
    port = _dead_port()
    config = tmp_path / "servefirst.toml"
    config.write_text(
        f"state_url = {_q('sqlite:///' + str(tmp_path / 'state.db'))}\n"
        "[connections.dead]\n"
        'crm = "hubspot"\n'
        f'base_url = "http://127.0.0.1:{port}"\n'
        'token = { env = "DEAD_TOKEN" }\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["sync", "-q", "-c", str(config)])
    assert result.exit_code == 3
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: connection refused by 127.0.0.1:{port}: check the URL and port")
    assert "MaxRetryError" not in line
    listed = runner.invoke(app, ["runs", "list", "-c", str(config), "--json"])
    (run,) = json.loads(listed.stdout)
    assert run["status"] == "failed"
    assert f"127.0.0.1:{port}" in run["error"]


def test_a_certificate_nobody_told_servefirst_about_asks_for_ca_bundle(tmp_path: Path) -> None:
    sandbox = start_salesforce(workdir=tmp_path / "sf", seed="none")
    try:
        text = sandbox.config_path.read_text(encoding="utf-8")
        config = tmp_path / "servefirst.toml"
        config.write_text(
            "\n".join(line for line in text.splitlines() if not line.startswith("ca_bundle")),
            encoding="utf-8",
        )
        result = runner.invoke(app, ["sync", "-q", "-c", str(config)])
    finally:
        sandbox.stop()
    assert result.exit_code == 3
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: certificate verify failed for 127.0.0.1: set ca_bundle")
