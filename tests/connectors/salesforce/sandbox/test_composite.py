"""Composite sObject collections: per-record results, allOrNone rollback, the 200 limit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.testing import first_error


def _task(subject: str, **values: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Task"}, "Subject": subject, **values}


def test_create_returns_one_result_per_record_in_order(sf: Any) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": False, "records": [_task("a"), _task("b", Status="Nope"), _task("c")]},
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["id"].startswith("00T") and results[0]["errors"] == []
    error = results[1]["errors"][0]
    assert error["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error["fields"] == ["Status"]


def test_all_or_none_rolls_every_record_back(sf: Any) -> None:
    subject = f"rollback-{time.time_ns()}"
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"allOrNone": True, "records": [_task(subject), _task(subject, Priority="Urgent")]},
    )
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    found = sf.query(format_soql("SELECT Id FROM Task WHERE Subject = {}", subject))
    assert found["totalSize"] == 0


def test_all_or_none_rolls_back_updates_too(sf: Any) -> None:
    first = sf.Task.create({"Subject": "keep me"})["id"]
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Task"}, "id": first, "Subject": "changed"},
                {"attributes": {"type": "Task"}, "id": first, "Status": "Bogus"},
            ],
        },
    )
    assert not any(r["success"] for r in results)
    assert sf.Task.get(first)["Subject"] == "keep me"


def test_update_and_delete_collections(sf: Any) -> None:
    created = sf.restful(
        "composite/sobjects", method="POST", json={"records": [_task("u1"), _task("u2")]}
    )
    ids = [r["id"] for r in created]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Task"}, "id": i, "Status": "Completed"} for i in ids
            ],
        },
    )
    assert all(r["success"] for r in updated)
    retrieved = sf.restful(
        "composite/sobjects/Task", params={"ids": ",".join(ids), "fields": "Id,Status,IsClosed"}
    )
    assert [r["IsClosed"] for r in retrieved] == [True, True]
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    assert [r["success"] for r in deleted] == [True, True]
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_upsert_collection_by_external_id_reports_created(sf: Any) -> None:
    key = f"coll-{time.time_ns()}"
    body = {"allOrNone": False, "records": [_task("first", ServeFirst_Key__c=key)]}
    first = sf.restful("composite/sobjects/Task/ServeFirst_Key__c", method="PATCH", json=body)
    second = sf.restful("composite/sobjects/Task/ServeFirst_Key__c", method="PATCH", json=body)
    assert (first[0]["created"], second[0]["created"]) == (True, False)
    assert first[0]["id"] == second[0]["id"]
    twice = {
        "records": [
            _task("x", ServeFirst_Key__c=key + "b"),
            _task("y", ServeFirst_Key__c=key + "b"),
        ]
    }
    duplicated = sf.restful("composite/sobjects/Task/ServeFirst_Key__c", method="PATCH", json=twice)
    assert [r["errors"][0]["statusCode"] for r in duplicated] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_more_than_200_records_is_refused(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={"records": [_task(str(i)) for i in range(201)]},
        )
    assert first_error(raised.value)["errorCode"] == "EXCEEDED_ID_LIMIT"
