"""The Salesforce CLI (``sf``, from npm, pinned by package-lock.json) against a fresh org.

Users point the CLI at an org by hand: ``sf org login access-token`` reads the identity of a
token, ``sf org display`` checks the stored login, and ``sf data query`` runs SOQL and reads
``query?columns=true`` to lay out its table and CSV columns. Each test logs in from an empty
home directory of its own, so no login, config or cache leaks between tests or from the
machine. What the CLI prints is compared with the same data read through simple-salesforce.
``make fidelity`` installs the CLI; without it these tests skip, saying so.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from servefirst.connectors.salesforce.sandbox import INTEGRATION_USERNAME, RunningSandbox

BIN = Path(__file__).parent / "npm" / "node_modules" / ".bin"
SF = BIN / "sf"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not SF.exists(),
    reason="the Salesforce CLI is not installed: run `make fidelity` (needs node and npm)",
)

OPPORTUNITIES = "SELECT Id, Name, Account.Name FROM Opportunity ORDER BY Name"
BY_STAGE = (
    "SELECT StageName, COUNT(Id) deals, SUM(Amount) total FROM Opportunity "
    "GROUP BY StageName ORDER BY StageName"
)


@pytest.fixture(scope="module")
def deals(sf: Any) -> list[str]:
    """Two accounts, three opportunities (one with no account), in two stages."""
    acme = sf.Account.create({"Name": "CLI Acme"})["id"]
    globex = sf.Account.create({"Name": "CLI Globex"})["id"]
    rows = [
        ("CLI deal 1", acme, "Prospecting", 100),
        ("CLI deal 2", globex, "Prospecting", 250),
        ("CLI deal 3", None, "Closed Won", 40),
    ]
    for name, account, stage, amount in rows:
        record = {"Name": name, "StageName": stage, "CloseDate": "2026-12-01", "Amount": amount}
        if account:
            record["AccountId"] = account
        sf.Opportunity.create(record)
    return [name for name, *_ in rows]


def _cli_env(home: Path, sandbox: RunningSandbox) -> dict[str, str]:
    """The machine's environment without any Salesforce CLI setting, plus an empty home."""
    assert sandbox.ca_bundle is not None
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "SFDX_"))}
    return {
        **inherited,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NODE_EXTRA_CA_CERTS": str(sandbox.ca_bundle),
        "SF_ACCESS_TOKEN": sandbox.token,
        "SF_DISABLE_TELEMETRY": "true",
        "SF_AUTOUPDATE_DISABLE": "true",
        "SF_SKIP_NEW_VERSION_CHECK": "true",
        "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
    }


class Cli:
    """Runs ``sf`` in one test's own home directory."""

    def __init__(self, home: Path, sandbox: RunningSandbox) -> None:
        self.env = _cli_env(home, sandbox)
        self.home = home

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(SF), *args],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
        return done

    def json(self, *args: str) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(self.run(*args, "--json").stdout)
        assert reply["status"] == 0, reply
        return dict(reply["result"])


def _login(cli: Cli, sandbox: RunningSandbox) -> dict[str, Any]:
    return cli.json("org", "login", "access-token", "--instance-url", sandbox.url, "--no-prompt")


@pytest.fixture
def cli(tmp_path: Path, fresh_org: RunningSandbox) -> Cli:
    """The CLI logged in to the fresh org, from an empty home directory."""
    home = tmp_path / "home"
    home.mkdir()
    runner = Cli(home, fresh_org)
    _login(runner, fresh_org)
    return runner


def test_login_with_an_access_token_reads_the_tokens_user_and_org(
    tmp_path: Path, fresh_org: RunningSandbox, sf: Any
) -> None:
    login = _login(Cli(tmp_path, fresh_org), fresh_org)
    me = sf.oauth2("userinfo")
    assert login["username"] == INTEGRATION_USERNAME
    assert login["orgId"] == me["organization_id"]
    assert login["instanceUrl"].rstrip("/") == fresh_org.url
    stored = json.loads((tmp_path / ".sfdx" / f"{INTEGRATION_USERNAME}.json").read_text())
    assert stored["orgId"] == me["organization_id"]


def test_org_display_connects_at_the_newest_api_version(
    cli: Cli, sf: Any, fresh_org: RunningSandbox
) -> None:
    shown = cli.json("org", "display", "--target-org", INTEGRATION_USERNAME)
    versions = sf.session.get(f"{fresh_org.url}/services/data").json()
    newest = max(versions, key=lambda v: float(v["version"]))
    assert shown["connectedStatus"] == "Connected"
    assert shown["apiVersion"] == newest["version"]
    assert shown["id"] == sf.oauth2("userinfo")["organization_id"]


def test_data_query_returns_the_records_with_their_parent(
    cli: Cli, sf: Any, deals: list[str]
) -> None:
    result = cli.json(
        "data", "query", "--target-org", INTEGRATION_USERNAME, "--query", OPPORTUNITIES
    )
    expected = sf.query_all(OPPORTUNITIES)
    assert result["totalSize"] == expected["totalSize"] >= len(deals)
    assert _rows(result["records"]) == _rows(expected["records"])
    assert {"CLI Acme", "CLI Globex", None} <= {r[2] for r in _rows(result["records"])}


def _rows(records: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(r["Id"], r["Name"], (r["Account"] or {}).get("Name")) for r in records]


def test_data_query_runs_an_aggregate_query(cli: Cli, sf: Any, deals: list[str]) -> None:
    result = cli.json("data", "query", "--target-org", INTEGRATION_USERNAME, "--query", BY_STAGE)
    expected = sf.query_all(BY_STAGE)["records"]
    assert result["records"] == expected
    assert {r["attributes"]["type"] for r in result["records"]} == {"AggregateResult"}
    prospecting = next(r for r in result["records"] if r["StageName"] == "Prospecting")
    assert (prospecting["deals"], prospecting["total"]) == (2, 350)


def test_data_query_lays_out_parent_and_subquery_columns_from_column_metadata(
    cli: Cli, sf: Any, deals: list[str]
) -> None:
    """The CSV's header and cells come from ``columns=true``: a wrong shape empties them."""
    parents = _csv(cli, OPPORTUNITIES)
    assert list(parents[0]) == ["Id", "Name", "Account.Name"]
    expected = {r[0]: r[2] or "" for r in _rows(sf.query_all(OPPORTUNITIES)["records"])}
    assert {row["Id"]: row["Account.Name"] for row in parents} == expected
    children = _csv(cli, "SELECT Name, (SELECT Name FROM Opportunities) FROM Account")
    acme = next(row for row in children if row["Name"] == "CLI Acme")
    assert acme["Opportunities.totalSize"] == "1"
    assert acme["Opportunities.records.0.Name"] == "CLI deal 1"


def _csv(cli: Cli, query: str) -> list[dict[str, str]]:
    done = cli.run(
        "data",
        "query",
        "--target-org",
        INTEGRATION_USERNAME,
        "--query",
        query,
        "--result-format",
        "csv",
    )
    return list(csv.DictReader(io.StringIO(done.stdout)))
