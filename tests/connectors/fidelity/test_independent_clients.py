"""Clients nobody here wrote, from npm: jsforce 3 and HubSpot's ``@hubspot/api-client``.

Each runs a script of documented calls against a fresh sandbox started with its defaults and
reports one JSON line per check. ``make fidelity`` installs them (``npm ci``) into
``tests/connectors/fidelity/npm/node_modules``; without that install these tests skip, saying
so, and everything else in the suite still runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from servefirst.connectors.salesforce.sandbox import RunningSandbox

NPM_DIR = Path(__file__).parent / "npm"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (NPM_DIR / "node_modules").is_dir(),
    reason="the npm clients are not installed: run `make fidelity` (needs node and npm)",
)


def _run(script: str, env: dict[str, str]) -> list[dict[str, object]]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(NPM_DIR / script)],
        cwd=NPM_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    checks = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    failures = [c for c in checks if not c["ok"]]
    assert done.returncode == 0 and not failures, (failures, done.stderr[-2000:])
    return checks


def test_jsforce_on_a_fresh_org(fresh_org: RunningSandbox) -> None:
    assert fresh_org.ca_bundle is not None
    checks = _run(
        "salesforce.mjs",
        {
            "SANDBOX_URL": fresh_org.url,
            "SANDBOX_TOKEN": fresh_org.token,
            "NODE_EXTRA_CA_CERTS": str(fresh_org.ca_bundle),
        },
    )
    assert {c["check"] for c in checks} >= {
        "identity",
        "aggregate",
        "bulk 2.0 query polls to JobComplete",
    }


def test_hubspot_node_client_on_a_fresh_portal(portal: RunningSandbox) -> None:
    lag = portal.admin.call("GET", "/search-lag")["search_lag_seconds"]
    checks = _run(
        "hubspot.mjs",
        {"SANDBOX_URL": portal.url, "SANDBOX_TOKEN": portal.token, "SANDBOX_SEARCH_LAG": str(lag)},
    )
    assert len(checks) == 6
