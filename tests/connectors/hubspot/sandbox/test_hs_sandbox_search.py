"""Search: every operator, OR of AND groups, sorting, paging, limits, the 10,000 cap, lag."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot.crm.deals import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicObjectSearchRequest,
)

from servefirst.connectors.hubspot.sandbox import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox

TAG = "searchfixture"
ROWS: list[dict[str, str]] = [
    {"dealname": "Alpha lab rig", "amount": "100", "operational_date": "2025-01-10"},
    {"dealname": "Beta QA suite", "amount": "250", "operational_date": "2025-03-01"},
    {"dealname": "Gamma lab analytics", "amount": "400"},
    {"dealname": "Delta rig", "amount": "1000", "operational_date": "2025-06-30"},
]


def _epoch_ms(day: str) -> str:
    date = dt.date.fromisoformat(day)
    return str(int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp() * 1000))


@pytest.fixture(scope="module")
def fixture_deals(apis: Any) -> dict[str, str]:
    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[{"properties": {**row, "description": TAG}, "associations": []} for row in ROWS]
    )
    created = apis.deals_batch.create(body)
    return {r.properties["dealname"]: r.id for r in created.results}


def _names(apis: Any, *filters: dict[str, Any], **extra: Any) -> list[str]:
    groups = [
        {"filters": [{"propertyName": "description", "operator": "EQ", "value": TAG}, *filters]}
    ]
    request = PublicObjectSearchRequest(
        filter_groups=groups, properties=["dealname"], limit=100, **extra
    )
    result = apis.deals_search.do_search(public_object_search_request=request)
    return [r.properties["dealname"] for r in result.results]


OPERATOR_CASES = [
    ({"propertyName": "amount", "operator": "EQ", "value": "250"}, ["Beta QA suite"]),
    (
        {"propertyName": "amount", "operator": "NEQ", "value": "250"},
        ["Alpha lab rig", "Gamma lab analytics", "Delta rig"],
    ),
    ({"propertyName": "amount", "operator": "LT", "value": "250"}, ["Alpha lab rig"]),
    (
        {"propertyName": "amount", "operator": "LTE", "value": "250"},
        ["Alpha lab rig", "Beta QA suite"],
    ),
    ({"propertyName": "amount", "operator": "GT", "value": "400"}, ["Delta rig"]),
    (
        {"propertyName": "amount", "operator": "GTE", "value": "400"},
        ["Gamma lab analytics", "Delta rig"],
    ),
    (
        {"propertyName": "amount", "operator": "BETWEEN", "value": "200", "highValue": "400"},
        ["Beta QA suite", "Gamma lab analytics"],
    ),
    (
        {"propertyName": "amount", "operator": "IN", "values": ["100", "1000"]},
        ["Alpha lab rig", "Delta rig"],
    ),
    (
        {"propertyName": "amount", "operator": "NOT_IN", "values": ["100", "1000"]},
        ["Beta QA suite", "Gamma lab analytics"],
    ),
    (
        {"propertyName": "operational_date", "operator": "HAS_PROPERTY"},
        ["Alpha lab rig", "Beta QA suite", "Delta rig"],
    ),
    ({"propertyName": "operational_date", "operator": "NOT_HAS_PROPERTY"}, ["Gamma lab analytics"]),
    (
        {"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "lab"},
        ["Alpha lab rig", "Gamma lab analytics"],
    ),
    (
        {"propertyName": "dealname", "operator": "NOT_CONTAINS_TOKEN", "value": "lab"},
        ["Beta QA suite", "Delta rig"],
    ),
    (
        {"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "anal*"},
        ["Gamma lab analytics"],
    ),
    ({"propertyName": "dealname", "operator": "EQ", "value": "delta RIG"}, ["Delta rig"]),
    (
        {"propertyName": "operational_date", "operator": "GTE", "value": _epoch_ms("2025-03-01")},
        ["Beta QA suite", "Delta rig"],
    ),
    (
        {"propertyName": "operational_date", "operator": "LT", "value": "2025-03-01"},
        ["Alpha lab rig"],
    ),
    (
        {
            "propertyName": "operational_date",
            "operator": "BETWEEN",
            "value": "2025-01-01T00:00:00Z",
            "highValue": _epoch_ms("2025-03-31"),
        },
        ["Alpha lab rig", "Beta QA suite"],
    ),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATOR_CASES)
def test_operator(apis: Any, fixture_deals: dict[str, str], condition: Any, expected: Any) -> None:
    assert _names(apis, condition) == expected


def test_filter_groups_are_ored(apis: Any, fixture_deals: dict[str, str]) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": name}]}
            for name in ("Alpha lab rig", "Delta rig")
        ],
        properties=["dealname"],
    )
    result = apis.deals_search.do_search(public_object_search_request=request)
    assert sorted(r.properties["dealname"] for r in result.results) == [
        "Alpha lab rig",
        "Delta rig",
    ]
    assert result.total == 2


def test_sort_descending_by_a_number(apis: Any, fixture_deals: dict[str, str]) -> None:
    names = _names(apis, sorts=[{"propertyName": "amount", "direction": "DESCENDING"}])
    assert names == ["Delta rig", "Gamma lab analytics", "Beta QA suite", "Alpha lab rig"]


def test_sort_as_a_string_with_a_minus(apis: Any, fixture_deals: dict[str, str]) -> None:
    names = _names(apis, sorts=["-amount"])
    assert names[0] == "Delta rig"


def test_datetime_values_are_iso_with_milliseconds(
    apis: Any, fixture_deals: dict[str, str]
) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "description", "operator": "EQ", "value": TAG}]}
        ],
        limit=1,
    )
    result = apis.deals_search.do_search(public_object_search_request=request)
    stamp = result.results[0].properties["hs_lastmodifieddate"]
    assert dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    "request_body",
    [
        {"limit": 201},
        {"sorts": [{"propertyName": "amount"}, {"propertyName": "dealname"}]},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "amount", "operator": "EQ", "value": "1"}]}
            ]
            * 6
        },
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "amount", "operator": "EQ", "value": "1"}] * 11}
            ]
        },
    ],
    ids=["limit", "two-sorts", "six-groups", "unknown-property", "eleven-filters"],
)
def test_invalid_searches_are_400(apis: Any, request_body: Any) -> None:
    with pytest.raises(ApiException) as caught:
        apis.deals_search.do_search(public_object_search_request=request_body)
    assert caught.value.status == 400


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        workdir=tmp_path_factory.mktemp("big"),
        seed="none",
        engagements=10_050,
        rate_limits=False,
        search_lag_seconds=0.0,
    )
    yield running
    running.stop()


def test_paging_past_10000_results_is_a_400_and_windowing_reads_all(
    big_sandbox: RunningSandbox, connect: Any
) -> None:
    search = connect(big_sandbox.url, big_sandbox.token).deals_search

    def page(after: str | None, last_id: str) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": last_id}]}
            ],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=["dealname"],
            limit=200,
            after=after,
        )
        return search.do_search(public_object_search_request=request)

    last = page("9800", "0")
    assert last.total == 10_050
    assert len(last.results) == 200
    assert last.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        page("10000", "0")
    assert caught.value.status == 400
    rest = page(None, last.results[-1].id)
    assert rest.total == 50


def test_index_lag_hides_fresh_writes_then_shows_them(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token)
    empty_sandbox.admin.call("POST", "/search-lag", {"seconds": 0.6})
    deal = apis.deals.create({"properties": {"dealname": "lagging"}})
    query = {
        "filterGroups": [
            {"filters": [{"propertyName": "dealname", "operator": "EQ", "value": "lagging"}]}
        ]
    }
    assert apis.deals_search.do_search(public_object_search_request=query).total == 0
    time.sleep(0.7)
    assert apis.deals_search.do_search(public_object_search_request=query).total == 1
    apis.deals.update(deal.id, {"properties": {"dealname": "renamed"}})
    stale = apis.deals_search.do_search(public_object_search_request=query)
    assert stale.total == 1
    assert stale.results[0].properties["dealname"] == "lagging"
    assert stale.results[0].updated_at < apis.deals.get_by_id(deal.id).updated_at
    assert apis.deals.get_by_id(deal.id).properties["dealname"] == "renamed"


def test_repeated_queries_see_new_writes_and_other_portals_do_not_mix(
    sandbox: RunningSandbox, empty_sandbox: RunningSandbox, connect: Any
) -> None:
    query = {
        "filterGroups": [
            {"filters": [{"propertyName": "amount", "operator": "EQ", "value": "777"}]}
        ]
    }
    here, there = (
        connect(sandbox.url, sandbox.token),
        connect(empty_sandbox.url, empty_sandbox.token),
    )
    before = here.deals_search.do_search(public_object_search_request=query).total
    assert there.deals_search.do_search(public_object_search_request=query).total == 0
    here.deals.create({"properties": {"dealname": "seven", "amount": "777"}})
    assert here.deals_search.do_search(public_object_search_request=query).total == before + 1
    assert there.deals_search.do_search(public_object_search_request=query).total == 0
