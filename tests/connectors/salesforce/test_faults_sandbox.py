"""Injected faults: transient ones are retried with backoff, limits and bad auth stop the run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from servefirst.connectors.base import FieldChange, Plan, PullWindow, RecordUpdate, mapped
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.errors import AuthError, BudgetExhaustedError, RetryableError
from servefirst.playbook.model import Health

ConnectorFor = Callable[..., SalesforceConnector]
Counted = Callable[[RunningSandbox, str], int]
QUERY = "GET query"


@pytest.fixture(scope="module")
def sandbox(new_sandbox: Callable[..., RunningSandbox]) -> Iterator[RunningSandbox]:
    running = new_sandbox(engagements=5, token_ttl_seconds=1)
    yield running
    running.stop()


@pytest.fixture
def connector(
    sandbox: RunningSandbox, connector_for: ConnectorFor
) -> Iterator[SalesforceConnector]:
    sandbox.admin.clear_faults()
    opened = connector_for(sandbox)
    yield opened
    opened.close()
    sandbox.admin.clear_faults()


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 500},
        {"kind": "reset"},
        {"kind": "limit", "policy": "concurrent"},
    ],
    ids=["503", "500", "reset", "concurrent-limit"],
)
def test_transient_faults_are_retried_then_succeed(
    sandbox: RunningSandbox, connector: SalesforceConnector, counted: Counted, fault: dict[str, Any]
) -> None:
    before = counted(sandbox, QUERY)
    sandbox.admin.inject(count=2, **fault)
    assert len(list(connector.pull(PullWindow()))) == 5
    assert counted(sandbox, QUERY) - before == 3  # two failures, then the answer
    assert connector.api_calls.read == 3  # every attempt costs the org a request


def test_a_hanging_response_times_out_and_is_retried(
    sandbox: RunningSandbox, connector_for: ConnectorFor, counted: Counted
) -> None:
    connector = connector_for(sandbox, timeout_seconds=0.3)
    sandbox.admin.inject("latency", count=1, latency_ms=1500)
    started = time.monotonic()
    assert len(list(connector.pull(PullWindow()))) == 5
    assert time.monotonic() - started < 1.4
    assert connector.api_calls.read == 2
    connector.close()


def test_retries_are_bounded(
    sandbox: RunningSandbox, connector: SalesforceConnector, counted: Counted
) -> None:
    before = counted(sandbox, QUERY)
    sandbox.admin.inject("status", count=20, status=503)
    with pytest.raises(RetryableError, match="503"):
        list(connector.pull(PullWindow()))
    assert counted(sandbox, QUERY) - before == 4  # first try + max_retries (3)


def test_writes_are_retried_too(
    sandbox: RunningSandbox, connector: SalesforceConnector, counted: Counted
) -> None:
    target = next(iter(mapped(connector.pull(PullWindow())))).id
    before = counted(sandbox, "PATCH composite/sobjects")
    sandbox.admin.inject(
        "status", count=1, status=503, path_prefix="/services/data/v59.0/composite"
    )
    plan = Plan(
        updates=(RecordUpdate(target, (FieldChange(target, "health", None, Health.AT_RISK),)),)
    )
    assert connector.apply(plan).errors == []
    assert counted(sandbox, "PATCH composite/sobjects") - before == 2


def test_daily_limit_stops_at_once_without_retrying(
    sandbox: RunningSandbox, connector: SalesforceConnector, counted: Counted
) -> None:
    before = counted(sandbox, QUERY)
    sandbox.admin.inject("limit", count=5, policy="daily")
    with pytest.raises(BudgetExhaustedError) as info:
        list(connector.pull(PullWindow()))
    assert counted(sandbox, QUERY) - before == 1
    assert "TotalRequests" in str(info.value) and info.value.connection == "salesforce"


def test_spent_daily_budget_of_the_org_stops_the_run(
    sandbox: RunningSandbox, connector_for: ConnectorFor, counted: Counted
) -> None:
    sandbox.admin.call("POST", "/limits", {"daily_limit": 1000, "used": 1000})
    try:
        connector = connector_for(sandbox, api_budget_share=1.0)
        before = counted(sandbox, QUERY)
        with pytest.raises(BudgetExhaustedError):
            list(connector.pull(PullWindow()))
        assert counted(sandbox, QUERY) - before == 1
        connector.close()
    finally:
        sandbox.admin.call("POST", "/limits", {"daily_limit": 5_000_000, "used": 0})


def test_budget_share_stops_before_crossing_it(
    sandbox: RunningSandbox, connector_for: ConnectorFor, counted: Counted
) -> None:
    sandbox.admin.call("POST", "/limits", {"daily_limit": 100, "used": 47})
    try:
        connector = connector_for(sandbox, api_budget_share=0.5)
        before = counted(sandbox, QUERY)
        list(connector.pull(PullWindow()))  # 48/100: the header now tells the usage
        list(connector.pull(PullWindow()))  # 49/100
        list(connector.pull(PullWindow()))  # 50/100: the share is used up
        with pytest.raises(BudgetExhaustedError, match="50%"):
            list(connector.pull(PullWindow()))
        assert counted(sandbox, QUERY) - before == 3  # the refused request was never sent
        assert sandbox.admin.call("GET", "/limits")["used"] == 50
        connector.close()
    finally:
        sandbox.admin.call("POST", "/limits", {"daily_limit": 5_000_000, "used": 0})


def test_expired_jwt_token_is_renewed(
    sandbox: RunningSandbox,
    connector_for: ConnectorFor,
    counted: Counted,
    jwt_auth: Callable[[RunningSandbox], dict[str, Any]],
) -> None:
    connector = connector_for(sandbox, auth=jwt_auth(sandbox))
    assert len(list(connector.pull(PullWindow()))) == 5
    assert connector.api_calls.auth == 1
    time.sleep(1.1)  # the sandbox's tokens live one second here
    tokens, queries = counted(sandbox, "POST oauth2/token"), counted(sandbox, QUERY)
    assert len(list(connector.pull(PullWindow()))) == 5
    assert connector.api_calls.auth == 2
    assert counted(sandbox, "POST oauth2/token") - tokens == 1
    assert counted(sandbox, QUERY) - queries == 2  # the 401, then the same query again
    connector.close()


def test_client_credentials_login(sandbox: RunningSandbox, connector_for: ConnectorFor) -> None:
    secret = sandbox.config_path.parent / "client-secret.txt"
    auth = {
        "method": "client_credentials",
        "login_url": sandbox.url,
        "client_id": "servefirst-sandbox",
        "client_secret": {"file": str(secret)},
    }
    connector = connector_for(sandbox, auth=auth)
    assert len(list(connector.pull(PullWindow()))) == 5
    connector.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"username": "nobody@servefirst.sandbox"}, "approved"),
        ({"client_id": "someone-else"}, "invalid_client_id"),
    ],
)
def test_refused_login_is_an_auth_error_without_secrets(
    sandbox: RunningSandbox,
    connector_for: ConnectorFor,
    jwt_auth: Callable[[RunningSandbox], dict[str, Any]],
    change: dict[str, str],
    expected: str,
) -> None:
    connector = connector_for(sandbox, auth={**jwt_auth(sandbox), **change})
    with pytest.raises(AuthError, match=expected) as info:
        list(connector.pull(PullWindow()))
    key = Path(jwt_auth(sandbox)["private_key"]["file"]).read_text(encoding="utf-8")
    assert key.splitlines()[1] not in str(info.value)
    connector.close()


def test_rejected_pre_issued_token_stops_without_a_loop(
    new_sandbox: Callable[..., RunningSandbox], connector_for: ConnectorFor, counted: Counted
) -> None:
    own = new_sandbox()
    try:
        connector = connector_for(own)
        own.admin.call("POST", "/tokens/expire", {})
        with pytest.raises(AuthError, match="pre-issued access token") as info:
            list(connector.pull(PullWindow()))
        assert counted(own, QUERY) == 1
        assert own.token not in str(info.value) and own.token not in repr(connector)
        connector.close()
    finally:
        own.stop()


def test_configured_ca_bundle_wins_over_the_environment(
    sandbox: RunningSandbox,
    connector: SalesforceConnector,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """requests lets REQUESTS_CA_BUNDLE override Session.verify; the adapter pins the bundle."""
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other))
    assert len(list(connector.pull(PullWindow()))) == 5
