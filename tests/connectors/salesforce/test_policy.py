"""Salesforce error translation and API-budget metering (pure, no server)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from servefirst.connectors.salesforce.retry import describe, translate
from servefirst.connectors.salesforce.transport import CallMeter, Usage, call_kind, parse_limit_info
from servefirst.playbook.errors import (
    AuthError,
    BudgetExhaustedError,
    RetryableError,
)

URL = "https://x/services/data/v59.0/query/"


def body(code: str, message: str) -> Any:
    """An error body as simple-salesforce stores it: the parsed JSON (typed ``bytes`` there)."""
    return [{"errorCode": code, "message": message}]


def refused(code: str, message: str) -> SalesforceRefusedRequest:
    return SalesforceRefusedRequest(URL, 403, "query", body(code, message))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (refused("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), BudgetExhaustedError),
        (
            refused("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
            RetryableError,
        ),
        (refused("INSUFFICIENT_ACCESS", "no access"), AuthError),
        (
            SalesforceGeneralError(URL, 503, "query", body("SERVER_UNAVAILABLE", "x")),
            RetryableError,
        ),
        (SalesforceGeneralError(URL, 500, "query", cast(Any, "oops")), RetryableError),
        (requests.exceptions.ConnectionError("reset"), RetryableError),
        (requests.exceptions.ChunkedEncodingError("truncated"), RetryableError),
        (requests.exceptions.ReadTimeout("slow"), RetryableError),
    ],
)
def test_run_level_failures_translate(exc: Exception, expected: type[Exception]) -> None:
    translated = translate(exc, "query", "acme")
    assert type(translated) is expected
    assert translated is not None and translated.connection == "acme"


@pytest.mark.parametrize(
    "exc",
    [
        SalesforceMalformedRequest(URL, 400, "query", body("INVALID_FIELD", "No such column")),
        SalesforceGeneralError(URL, 412, "x", body("PRECONDITION_FAILED", "changed")),
        SalesforceExpiredSession(URL, 401, "x", body("INVALID_SESSION_ID", "expired")),
    ],
)
def test_record_level_failures_are_left_to_the_caller(exc: Exception) -> None:
    assert translate(exc, "query", "acme") is None


def test_describe_uses_salesforce_words() -> None:
    exc = SalesforceMalformedRequest(
        URL, 400, "q", body("INVALID_FIELD", "No such column 'Foo__c'")
    )
    assert describe(exc) == "INVALID_FIELD: No such column 'Foo__c'"


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=18/5000", Usage(18, 5000)),
        ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)", Usage(25, 5000)),
        ("per-app-api-usage=17/250(appName=x)", None),
        ("garbage", None),
    ],
)
def test_parse_limit_info(header: str, usage: Usage | None) -> None:
    assert parse_limit_info(header) == usage


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("POST", "https://login.example.com/services/oauth2/token", "auth"),
        ("GET", "https://x/services/oauth2/userinfo", "read"),
        ("GET", "https://x/services/data/v59.0/query/?q=x", "read"),
        ("PATCH", "https://x/services/data/v59.0/composite/sobjects", "write"),
        ("POST", "https://x/services/data/v59.0/tooling/sobjects/CustomField/", "write"),
    ],
)
def test_call_kind(method: str, url: str, kind: str) -> None:
    assert call_kind(method, url) == kind


def test_meter_stops_before_crossing_the_budget_share() -> None:
    meter = CallMeter(budget_share=0.5, connection="acme")
    meter.before("read")  # usage unknown yet: allowed
    meter.after({"Sforce-Limit-Info": "api-usage=49/100", "Date": "Wed, 01 May 2024 12:00:00 GMT"})
    meter.before("read")  # 49 used, share ends at 50
    meter.after({"Sforce-Limit-Info": "api-usage=50/100"})
    meter.before("auth")  # token requests cost no API budget
    with pytest.raises(BudgetExhaustedError, match="50% of the org's daily API requests") as info:
        meter.before("write")
    assert info.value.connection == "acme"
    calls = meter.calls
    assert (calls.read, calls.write, calls.auth) == (2, 0, 1)  # the refused call was never sent
    assert meter.first_date == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
