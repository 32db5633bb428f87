"""``servefirst doctor`` against sandboxes, each broken the way real set-ups break.

One config holds five connections, each with one fault: a missing field grant (revoked with
the real simple-salesforce, as an admin would), a dead port, a CA bundle that did not sign the
server's certificate, a private-app token without a scope, and a pipeline stage nobody mapped.
``doctor --all`` must print exactly one failure line for each, naming what to do, and exit 1;
healthy sandboxes pass with exit 0.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import hubspot
import pytest
import trustme
from hubspot.crm.pipelines import PipelineStageInput
from simple_salesforce.api import Salesforce
from typer.testing import CliRunner

from servefirst.connectors.hubspot.sandbox import start_sandbox as start_hubspot
from servefirst.connectors.preflight import Status, probe
from servefirst.connectors.salesforce.sandbox import client_session
from servefirst.connectors.salesforce.sandbox import start_sandbox as start_salesforce
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.cli import app

runner = CliRunner()
ALL_HUBSPOT_SCOPES = [
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.owners.read",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.schemas.contacts.write",
]


@pytest.fixture(scope="module")
def salesforce(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    sandbox = start_salesforce(workdir=tmp_path_factory.mktemp("sf"), seed="demo")
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def hubspot_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    sandbox = start_hubspot(workdir=tmp_path_factory.mktemp("hs"), seed="demo")
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def hubspot_with_parked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A demo portal where an admin added a 'Parked' stage to the servefirst pipeline."""
    sandbox = start_hubspot(workdir=tmp_path_factory.mktemp("hs2"), seed="demo")
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals").results
    (serve_first,) = [p for p in pipelines if p.label == "Serve-first"]
    client.crm.pipelines.pipeline_stages_api.create(
        "deals",
        serve_first.id,
        PipelineStageInput(
            label="Parked", display_order=99, metadata={"probability": "0.1", "isClosed": "false"}
        ),
    )
    yield sandbox
    sandbox.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _q(value: object) -> str:
    return json.dumps(str(value))


def _salesforce(name: str, sandbox: RunningSandbox, ca_bundle: Path, token_file: Path) -> str:
    return (
        f"[connections.{name}]\n"
        'crm = "salesforce"\n'
        f"instance_url = {_q(sandbox.url)}\n"
        f"ca_bundle = {_q(ca_bundle)}\n"
        f"[connections.{name}.auth]\n"
        'method = "jwt"\n'
        f"login_url = {_q(sandbox.url)}\n"
        'client_id = "servefirst-sandbox"\n'
        'username = "integration@servefirst.sandbox"\n'
        f"private_key = {{ file = {_q(token_file)} }}\n"
    )


def _hubspot(name: str, url: str, token_file: Path) -> str:
    return (
        f"[connections.{name}]\n"
        'crm = "hubspot"\n'
        f"base_url = {_q(url)}\n"
        f"token = {{ file = {_q(token_file)} }}\n"
    )


def _doctor(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["doctor", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def _sections(out: str) -> dict[str, list[str]]:
    """Each connection's checklist lines, by connection name."""
    sections: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = line.split(" ", 1)[0]
            sections[current] = []
        elif current:
            sections[current].append(line.strip())
    return sections


def _jwt_key(sandbox: RunningSandbox) -> Path:
    return sandbox.config_path.parent / "jwt-private-key.pem"


def test_healthy_sandboxes_pass(
    salesforce: RunningSandbox, hubspot_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    assert salesforce.ca_bundle is not None
    token = tmp_path / "hs-token.txt"
    token.write_text(hubspot_sandbox.token, encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(
        _salesforce("sf", salesforce, salesforce.ca_bundle, _jwt_key(salesforce))
        + _hubspot("hs", hubspot_sandbox.url, token),
        encoding="utf-8",
    )
    code, out = _doctor("-c", str(config), "--all")
    assert code == 0, out
    assert "fail" not in out.split()
    assert "ready to sync" in out


def test_five_broken_setups_print_one_actionable_line_each_and_exit_1(
    salesforce: RunningSandbox,
    hubspot_sandbox: RunningSandbox,
    hubspot_with_parked: RunningSandbox,
    tmp_path: Path,
) -> None:
    assert salesforce.ca_bundle is not None
    session = client_session(salesforce.ca_bundle)
    sf = Salesforce(instance_url=salesforce.url, session_id=salesforce.token, session=session)
    grant = sf.query(
        "SELECT Id FROM FieldPermissions WHERE Field = 'Opportunity.Playbook_Health__c'"
    )["records"][0]["Id"]
    path = f"sobjects/FieldPermissions/{grant}"
    sf.restful(path, method="PATCH", json={"PermissionsRead": False, "PermissionsEdit": False})
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    limited = hubspot_sandbox.admin.call(
        "POST",
        "/tokens",
        {"scopes": [s for s in ALL_HUBSPOT_SCOPES if s != "crm.objects.deals.write"]},
    )["token"]
    (tmp_path / "limited.txt").write_text(limited, encoding="utf-8")
    (tmp_path / "parked.txt").write_text(hubspot_with_parked.token, encoding="utf-8")
    dead = f"http://127.0.0.1:{_free_port()}"
    config = tmp_path / "servefirst.toml"
    config.write_text(
        _salesforce("grant", salesforce, salesforce.ca_bundle, _jwt_key(salesforce))
        + _salesforce("cert", salesforce, other_ca, _jwt_key(salesforce))
        + _hubspot("port", dead, tmp_path / "limited.txt")
        + _hubspot("scope", hubspot_sandbox.url, tmp_path / "limited.txt")
        + _hubspot("stage", hubspot_with_parked.url, tmp_path / "parked.txt"),
        encoding="utf-8",
    )
    try:
        code, out = _doctor("-c", str(config), "--all")
    finally:
        sf.restful(path, method="PATCH", json={"PermissionsRead": True, "PermissionsEdit": True})
        session.close()
    assert code == 1, out
    sections = _sections(out)
    assert list(sections) == ["grant", "cert", "port", "scope", "stage"]
    failures = {
        name: [ln for ln in lines if ln.startswith("fail")] for name, lines in sections.items()
    }
    assert all(len(lines) == 1 for lines in failures.values()), out
    (grant_line,) = failures["grant"]
    assert "Opportunity.Playbook_Health__c" in grant_line
    assert "grant Read and Edit" in grant_line
    assert "ServeFirst_Integration" in grant_line
    (cert_line,) = failures["cert"]
    assert "not trusted" in cert_line
    assert f"ca_bundle {other_ca}" in cert_line
    (port_line,) = failures["port"]
    port = dead.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port} refused the connection" in port_line
    assert "base_url" in port_line
    (scope_line,) = failures["scope"]
    assert "crm.objects.deals.write" in scope_line
    assert "Private Apps" in scope_line
    (stage_line,) = failures["stage"]
    assert "'Parked'" in stage_line
    assert "unmapped_stages" in stage_line
    assert limited not in out  # the token never appears in the checklist


def test_a_deliberately_unmapped_stage_passes_and_json_lists_every_check(
    hubspot_with_parked: RunningSandbox, tmp_path: Path
) -> None:
    token = tmp_path / "token.txt"
    token.write_text(hubspot_with_parked.token, encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(
        _hubspot("hs", hubspot_with_parked.url, token) + 'unmapped_stages = ["Parked"]\n',
        encoding="utf-8",
    )
    code, out = _doctor("-c", str(config), "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["ok"] is True
    checks = {c["check"]: c for c in document["checks"]}
    assert {"reachable", "login", "scopes", "properties", "stages", "pipeline", "clock"} <= set(
        checks
    )
    assert "left out on purpose: Parked" in checks["stages"]["message"]


def test_provision_and_sync_refuse_a_stage_map_naming_a_stage_the_org_lacks(
    salesforce: RunningSandbox, tmp_path: Path
) -> None:
    assert salesforce.ca_bundle is not None
    config = tmp_path / "servefirst.toml"
    config.write_text(
        f"state_url = {_q('sqlite:///' + str(tmp_path / 'state.db'))}\n"
        + _salesforce("sf", salesforce, salesforce.ca_bundle, _jwt_key(salesforce)).replace(
            "[connections.sf.auth]", 'stage_map = { design = "Solutioning" }\n[connections.sf.auth]'
        ),
        encoding="utf-8",
    )
    salesforce.admin.reset_stats()
    for command in (["provision"], ["sync", "--json"]):
        result = runner.invoke(app, [*command, "-c", str(config)])
        assert result.exit_code == 2, result.output
        assert "stage_map.design = 'Solutioning'" in result.stderr + result.stdout
        assert "'Design'" in result.stderr + result.stdout  # the stage it could map to
    writes = {k: n for k, n in salesforce.admin.stats()["by_endpoint"].items() if "GET" not in k}
    assert set(writes) <= {"POST oauth2/token"}, writes  # logins only: nothing written


def test_the_sandbox_admin_api_lists_itself(
    salesforce: RunningSandbox, hubspot_sandbox: RunningSandbox
) -> None:
    for sandbox, own in (
        (salesforce, "/__sandbox__/limits"),
        (hubspot_sandbox, "/__sandbox__/tokens"),
    ):
        endpoints = {(e["method"], e["path"]) for e in sandbox.admin.endpoints()}
        assert ("POST", "/__sandbox__/faults") in endpoints
        assert any(path == own for _, path in endpoints)


def test_pointing_at_the_company_pipeline_is_warned_about(
    hubspot_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    token = tmp_path / "token.txt"
    token.write_text(hubspot_sandbox.token, encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(
        _hubspot("hs", hubspot_sandbox.url, token) + 'pipeline = "Sales Pipeline"\n',
        encoding="utf-8",
    )
    code, out = _doctor("-c", str(config))
    assert code == 1, out  # its stages are not mapped either
    (warning,) = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("warn  pipeline")]
    assert "pipeline 'Sales Pipeline' holds" in warning
    assert "deals servefirst did not create" in warning
    assert "would add stages Discover, Diagnose, Design, Deliver" in warning
    assert "a pipeline of its own" in warning


def test_a_clock_ten_minutes_off_fails_the_clock_check(
    hubspot_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    token = tmp_path / "token.txt"
    token.write_text(hubspot_sandbox.token, encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(_hubspot("hs", hubspot_sandbox.url, token), encoding="utf-8")
    hubspot_sandbox.admin.set_clock_offset(-600)
    try:
        code, out = _doctor("-c", str(config))
    finally:
        hubspot_sandbox.admin.set_clock_offset(0)
    assert code == 1, out
    (line,) = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("fail")]
    assert line.startswith("fail  clock")
    assert "s ahead of HubSpot's" in line and "NTP" in line


def test_a_refused_jwt_login_is_one_line_and_the_rest_waits(
    salesforce: RunningSandbox, tmp_path: Path
) -> None:
    assert salesforce.ca_bundle is not None
    config = tmp_path / "servefirst.toml"
    config.write_text(
        _salesforce("sf", salesforce, salesforce.ca_bundle, _jwt_key(salesforce)).replace(
            'client_id = "servefirst-sandbox"', 'client_id = "not-the-consumer-key"'
        ),
        encoding="utf-8",
    )
    code, out = _doctor("-c", str(config))
    assert code == 1, out
    (line,) = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("fail")]
    assert line.startswith("fail  login")
    assert "consumer key" in line and "pre-authorised" in line
    assert "skip  the rest" in out


def test_an_unknown_host_is_named_with_the_setting_to_fix() -> None:
    check = probe("https://no-such-crm.invalid", setting="instance_url", ca_bundle=None, timeout=5)
    assert check.status is Status.FAIL
    assert check.line().startswith("cannot resolve no-such-crm.invalid (DNS): check instance_url")


def test_a_missing_secret_fails_its_connection_and_doctor_all_goes_on(
    hubspot_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    token = tmp_path / "token.txt"
    token.write_text(hubspot_sandbox.token, encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(
        '[connections.broken]\ncrm = "hubspot"\n'
        f"base_url = {_q(hubspot_sandbox.url)}\n"
        'token = { env = "NO_SUCH_TOKEN" }\n' + _hubspot("fine", hubspot_sandbox.url, token),
        encoding="utf-8",
    )
    code, out = _doctor("-c", str(config), "--all")
    assert code == 1, out
    sections = _sections(out)
    (line,) = [ln for ln in sections["broken"] if ln.startswith("fail")]
    assert "NO_SUCH_TOKEN is not set" in line
    assert not [ln for ln in sections["fine"] if ln.startswith("fail")]


def test_a_hubspot_portal_over_tls_is_checked_with_its_ca_bundle(tmp_path: Path) -> None:
    sandbox = start_hubspot(workdir=tmp_path / "hs", seed="demo", tls=True)
    try:
        assert sandbox.ca_bundle is not None and sandbox.url.startswith("https://")
        token = tmp_path / "token.txt"
        token.write_text(sandbox.token, encoding="utf-8")
        config = tmp_path / "servefirst.toml"
        config.write_text(
            _hubspot("hs", sandbox.url, token) + f"ca_bundle = {_q(sandbox.ca_bundle)}\n",
            encoding="utf-8",
        )
        code, out = _doctor("-c", str(config))
        assert code == 0, out
        assert "certificate trusted by ca_bundle" in out
        config.write_text(_hubspot("hs", sandbox.url, token), encoding="utf-8")
        code, out = _doctor("-c", str(config))
    finally:
        sandbox.stop()
    assert code == 1, out
    (line,) = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("fail")]
    assert "not trusted" in line and "set ca_bundle" in line
