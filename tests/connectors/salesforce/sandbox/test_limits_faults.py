"""The daily API budget, Sforce-Limit-Info, fault injection and request counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from servefirst.connectors.salesforce.sandbox import RunningSandbox, start_sandbox
from servefirst.connectors.salesforce.sandbox.auth import ApiBudget
from servefirst.connectors.salesforce.sandbox.errors import SfError
from servefirst.connectors.salesforce.sandbox.testing import connect, first_error


def test_limits_and_the_usage_header(fresh: RunningSandbox, fresh_sf: Any) -> None:
    limits = fresh_sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 5_000_000
    used = limits["DailyApiRequests"]["Max"] - limits["DailyApiRequests"]["Remaining"]
    assert used >= 1
    fresh_sf.query("SELECT Id FROM User")
    usage = fresh_sf.api_usage["api-usage"]
    assert (usage.used, usage.total) == (used + 1, 5_000_000)
    assert fresh.admin.call("GET", "/limits") == {"daily_limit": 5_000_000, "used": used + 1}


def test_spent_daily_budget_answers_403_request_limit_exceeded(
    fresh: RunningSandbox, fresh_sf: Any
) -> None:
    fresh.admin.call("POST", "/limits", {"daily_limit": 3, "used": 0})
    fresh_sf.query("SELECT Id FROM User")
    fresh_sf.query("SELECT Id FROM User")
    fresh_sf.query("SELECT Id FROM User")
    with pytest.raises(SalesforceRefusedRequest) as raised:
        fresh_sf.query("SELECT Id FROM User")
    assert first_error(raised.value) == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
    }
    assert fresh_sf.api_usage["api-usage"].used == 3


def test_daily_limit_option(tmp_path: Path) -> None:
    sandbox = start_sandbox(workdir=tmp_path, seed="none", stages="servefirst", daily_limit=1)
    sf = connect(sandbox)
    try:
        assert sf.limits()["DailyApiRequests"] == {"Max": 1, "Remaining": 0}
        with pytest.raises(SalesforceRefusedRequest):
            sf.limits()
    finally:
        sf.session.close()
        sandbox.stop()


def test_injected_503_has_salesforce_body_and_then_recovers(
    fresh: RunningSandbox, fresh_sf: Any
) -> None:
    fresh.admin.inject("status", count=2, status=503)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as raised:
            fresh_sf.query("SELECT Id FROM User")
        assert raised.value.status == 503
        assert first_error(raised.value)["errorCode"] == "SERVER_UNAVAILABLE"
    assert fresh_sf.query("SELECT Id FROM User")["totalSize"] == 1


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("daily", "TotalRequests Limit exceeded."),
        ("concurrent", "ConcurrentPerOrgLongTxn Limit exceeded."),
    ],
)
def test_injected_limits(fresh: RunningSandbox, fresh_sf: Any, policy: str, message: str) -> None:
    fresh.admin.inject("limit", policy=policy)
    with pytest.raises(SalesforceRefusedRequest) as raised:
        fresh_sf.query("SELECT Id FROM User")
    assert first_error(raised.value) == {"message": message, "errorCode": "REQUEST_LIMIT_EXCEEDED"}


def test_injected_reset_breaks_the_connection(fresh: RunningSandbox, fresh_sf: Any) -> None:
    fresh.admin.inject("reset", path_prefix="/services/data/v59.0/query")
    with pytest.raises(requests.exceptions.RequestException):
        fresh_sf.query("SELECT Id FROM User")
    assert fresh_sf.query("SELECT Id FROM User")["totalSize"] == 1


def test_counters_name_salesforce_endpoints(fresh: RunningSandbox, fresh_sf: Any) -> None:
    fresh.admin.reset_stats()
    fresh_sf.query("SELECT Id FROM User")
    account = fresh_sf.Account.create({"Name": "Counted"})["id"]
    fresh_sf.Account.update(account, {"Name": "Counted twice"})
    fresh_sf.Opportunity.describe()
    fresh_sf.restful("composite/sobjects", method="POST", json={"records": []})
    fresh_sf.toolingexecute("query/?q=SELECT Id FROM CustomField")
    stats = fresh.admin.stats()
    assert stats["by_endpoint"] == {
        "GET query": 1,
        "POST sobjects/Account": 1,
        "PATCH sobjects/Account": 1,
        "GET sobjects/Opportunity/describe": 1,
        "POST composite/sobjects": 1,
        "GET tooling/query": 1,
    }
    assert stats["total"] == 6


def test_seeded_random_faults_are_reproducible(fresh: RunningSandbox, fresh_sf: Any) -> None:
    def outcomes() -> list[int]:
        fresh.admin.random_faults(0.5, 7, [{"kind": "status", "status": 503}])
        seen = []
        for _ in range(12):
            try:
                fresh_sf.query("SELECT Id FROM User")
                seen.append(200)
            except SalesforceGeneralError as exc:
                seen.append(exc.status)
        fresh.admin.clear_faults()
        return seen

    first = outcomes()
    assert 503 in first and 200 in first
    assert outcomes() == first


def test_unknown_resources_and_methods_answer_salesforce_errors(fresh_sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        fresh_sf.restful("nothing/here")
    assert first_error(raised.value)["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceGeneralError) as not_allowed:
        fresh_sf.restful("limits/", method="DELETE")
    assert not_allowed.value.status == 405
    error = first_error(not_allowed.value)
    assert error["errorCode"] == "METHOD_NOT_ALLOWED" and "GET" in error["message"]


def test_daily_budget_is_a_rolling_24_hours() -> None:
    now = [1_000_000.0]
    budget = ApiBudget(2, clock=lambda: now[0])
    budget.charge()
    now[0] += 3600
    budget.charge()
    with pytest.raises(SfError) as raised:
        budget.charge()
    assert (raised.value.status, raised.value.code) == (403, "REQUEST_LIMIT_EXCEEDED")
    now[0] += 23 * 3600 + 60  # the first request is now older than 24 hours
    budget.charge()
    assert budget.header() == "api-usage=2/2"


def test_fault_replies_carry_the_usage_header(fresh: RunningSandbox, fresh_sf: Any) -> None:
    fresh.admin.inject("limit", policy="daily")
    headers = {"Authorization": f"Bearer {fresh.token}"}
    with fresh_sf.session.get(f"{fresh.url}/services/data/v59.0/limits/", headers=headers) as reply:
        status, usage = reply.status_code, reply.headers.get("Sforce-Limit-Info", "")
    assert status == 403 and usage.startswith("api-usage=")
