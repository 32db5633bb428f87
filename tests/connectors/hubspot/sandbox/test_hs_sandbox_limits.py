"""Auth, scopes, rate limits (headers, 429 bodies by policy) and faults via the admin API."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import urllib3
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest
from hubspot.crm.properties import ApiException as PropertiesApiException

from servefirst.connectors.sandboxkit import RunningSandbox

HEADERS = (
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Secondly",
    "X-HubSpot-RateLimit-Secondly-Remaining",
)
NO_RETRY = urllib3.Retry(total=0, allowed_methods=None, status_forcelist=())


def test_missing_and_unknown_tokens_are_401(sandbox: RunningSandbox, connect: Any) -> None:
    for token in ("", "pat-na1-not-a-token"):
        with pytest.raises(ApiException) as caught:
            connect(sandbox.url, token).deals.get_page(limit=1)
        assert caught.value.status == 401
        assert json.loads(caught.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_expired_token_is_401_expired(sandbox: RunningSandbox, connect: Any) -> None:
    token = sandbox.admin.call("POST", "/tokens", {"expired": True})["token"]
    with pytest.raises(ApiException) as caught:
        connect(sandbox.url, token).deals.get_page(limit=1)
    assert json.loads(caught.value.body)["category"] == "EXPIRED_AUTHENTICATION"


def test_missing_scope_is_403_naming_the_scopes(sandbox: RunningSandbox, connect: Any) -> None:
    token = sandbox.admin.call("POST", "/tokens", {"scopes": ["crm.objects.deals.read"]})["token"]
    limited = connect(sandbox.url, token)
    assert limited.deals.get_page(limit=1).results
    with pytest.raises(ApiException) as caught:
        limited.deals.update("1", {"properties": {"dealname": "x"}})
    assert caught.value.status == 403
    body = json.loads(caught.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredScopes"] == ["crm.objects.deals.write"]


def test_schema_reads_take_the_object_scope_but_writes_need_the_schema_scope(
    sandbox: RunningSandbox, connect: Any
) -> None:
    token = sandbox.admin.call("POST", "/tokens", {"scopes": ["crm.objects.deals.read"]})["token"]
    limited = connect(sandbox.url, token)
    assert limited.properties.get_by_name("deals", "dealname").name == "dealname"
    assert limited.pipelines.get_all("deals").results
    with pytest.raises(PropertiesApiException) as caught:
        limited.properties.update("deals", "operational_date", {"label": "x"})
    required = json.loads(caught.value.body)["errors"][0]["context"]["requiredScopes"]
    assert required == ["crm.schemas.deals.write"]


def test_every_response_carries_the_rate_limit_headers(apis: Any) -> None:
    _, _, headers = apis.deals.get_page_with_http_info(limit=1)
    assert all(name in headers for name in HEADERS)
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    with pytest.raises(ApiException) as caught:
        apis.deals.get_by_id("999999999")
    assert all(name in caught.value.headers for name in HEADERS)


def _limited(sandbox: RunningSandbox, connect: Any, **settings: Any) -> Any:
    sandbox.admin.call("POST", "/ratelimits", {"enabled": True, "reset_window": True, **settings})
    return connect(sandbox.url, sandbox.token, NO_RETRY)


def test_ten_second_window_answers_hubspots_429(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    apis = _limited(empty_sandbox, connect, tier="starter")
    for _ in range(100):
        apis.deals.get_page(limit=1)
    with pytest.raises(ApiException) as caught:
        apis.deals.get_page(limit=1)
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert "category" not in body
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_daily_budget_answers_daily_429(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = _limited(empty_sandbox, connect, daily_used=650_000)
    with pytest.raises(ApiException) as caught:
        apis.deals.get_page(limit=1)
    assert json.loads(caught.value.body)["policyName"] == "DAILY"
    assert caught.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_search_has_its_own_per_second_limit(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = _limited(empty_sandbox, connect)
    request = PublicObjectSearchRequest(limit=1)
    statuses = []
    for _ in range(8):
        try:
            apis.deals_search.do_search(public_object_search_request=request)
            statuses.append(200)
        except ApiException as error:
            statuses.append(error.status)
            assert json.loads(error.body)["policyName"] == "SECONDLY"
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]


def test_injected_status_fault_answers_hubspots_error_body(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token, NO_RETRY)
    empty_sandbox.admin.inject("status", status=502, path_prefix="/crm/v3/objects/deals")
    with pytest.raises(ApiException) as caught:
        apis.deals.get_page(limit=1)
    assert caught.value.status == 502
    body = json.loads(caught.value.body)
    assert body["status"] == "error"
    assert body["correlationId"]
    assert apis.deals.get_page(limit=1).results == []


def test_injected_limit_fault_uses_the_policy(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token, NO_RETRY)
    for policy, name in (("daily", "DAILY"), ("ten_secondly", "TEN_SECONDLY_ROLLING")):
        empty_sandbox.admin.inject("limit", policy=policy)
        with pytest.raises(ApiException) as caught:
            apis.deals.get_page(limit=1)
        assert caught.value.status == 429
        assert json.loads(caught.value.body)["policyName"] == name


def test_injected_reset_breaks_the_connection(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token, NO_RETRY)
    empty_sandbox.admin.inject("reset")
    with pytest.raises(urllib3.exceptions.HTTPError):
        apis.deals.get_page(limit=1)


def test_stats_count_requests_per_endpoint(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token)
    empty_sandbox.admin.reset_stats()
    apis.deals.get_page(limit=1)
    apis.deals_search.do_search(public_object_search_request=PublicObjectSearchRequest(limit=1))
    apis.assoc_batch.get_page("deals", "contacts", {"inputs": []})
    stats = empty_sandbox.admin.stats()["by_endpoint"]
    assert stats == {
        "GET objects/deals": 1,
        "POST objects/deals/search": 1,
        "POST associations/deals/contacts/batch/read": 1,
    }


def test_unknown_paths_are_an_empty_404_with_headers(sandbox: RunningSandbox) -> None:
    response = requests.get(
        f"{sandbox.url}/crm/v3/nothing/here",
        headers={"Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )
    assert response.status_code == 404
    assert response.content == b""
    assert "X-HubSpot-RateLimit-Max" in response.headers


def test_injected_latency_delays_the_answer(empty_sandbox: RunningSandbox, connect: Any) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token, NO_RETRY)
    empty_sandbox.admin.inject("latency", latency_ms=300)
    started = time.monotonic()
    assert apis.deals.get_page(limit=1).results == []
    assert time.monotonic() - started >= 0.3


def test_random_faults_are_reproducible_for_a_seed(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token, NO_RETRY)

    def run() -> list[int]:
        empty_sandbox.admin.random_faults(0.5, 7, [{"kind": "status", "status": 503}])
        statuses = []
        for _ in range(12):
            try:
                apis.deals.get_page(limit=1)
                statuses.append(200)
            except ApiException as error:
                statuses.append(error.status)
        empty_sandbox.admin.clear_faults()
        return statuses

    first = run()
    assert first == run()
    assert {200, 503} == set(first)
