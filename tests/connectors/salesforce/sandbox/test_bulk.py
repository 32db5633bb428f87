"""Bulk API 2.0 through simple-salesforce's ``bulk2``: ingest results and paged query jobs."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.testing import first_error


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_insert_reports_successes_and_failures(sf: Any) -> None:
    tag = f"bulk-{time.time_ns()}"
    records = [
        {"Name": f"{tag}-a", "StageName": "Discover", "CloseDate": "2030-01-01"},
        {"Name": f"{tag}-b", "StageName": "Dreaming", "CloseDate": "2030-01-01"},
        {"Name": f"{tag}-c", "StageName": "Design", "CloseDate": "2030-01-01T00:00:00Z"},
    ]
    [result] = sf.bulk2.Opportunity.insert(records=records, wait=0)
    assert result["numberRecordsProcessed"] == 3 and result["numberRecordsFailed"] == 2
    successes = _rows(sf.bulk2.Opportunity.get_successful_records(result["job_id"]))
    assert [(r["Name"], r["sf__Created"]) for r in successes] == [(f"{tag}-a", "true")]
    assert successes[0]["sf__Id"].startswith("006")
    failures = _rows(sf.bulk2.Opportunity.get_failed_records(result["job_id"]))
    assert [f["sf__Error"].split(":")[0] for f in failures] == [
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "JSON_PARSER_ERROR",
    ]
    assert failures[0]["sf__Error"].endswith("StageName --")


def test_update_with_null_marker_and_delete(sf: Any) -> None:
    record_id = sf.Opportunity.create(
        {"Name": "Bulk upd", "StageName": "Discover", "CloseDate": "2030-01-01", "NextStep": "x"}
    )["id"]
    [updated] = sf.bulk2.Opportunity.update(
        records=[{"Id": record_id, "StageName": "Design", "NextStep": "#N/A", "Amount": ""}],
        wait=0,
    )
    assert updated["numberRecordsFailed"] == 0
    record = sf.Opportunity.get(record_id)
    assert (record["StageName"], record["NextStep"]) == ("Design", None)
    [deleted] = sf.bulk2.Opportunity.delete(records=[{"Id": record_id}], wait=0)
    assert deleted["numberRecordsFailed"] == 0
    soql = format_soql("SELECT IsDeleted FROM Opportunity WHERE Id = {}", record_id)
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"]


def test_upsert_tasks_by_external_id(sf: Any) -> None:
    key = f"bulk-task-{time.time_ns()}"
    rows = [
        {"ServeFirst_Key__c": key, "Subject": "Agree success criteria", "Status": "Not Started"}
    ]
    [first] = sf.bulk2.Task.upsert(records=rows, external_id_field="ServeFirst_Key__c", wait=0)
    [second] = sf.bulk2.Task.upsert(records=rows, external_id_field="ServeFirst_Key__c", wait=0)
    created = [
        _rows(sf.bulk2.Task.get_successful_records(r["job_id"]))[0]["sf__Created"]
        for r in (first, second)
    ]
    assert created == ["true", "false"]
    soql = format_soql("SELECT COUNT() FROM Task WHERE ServeFirst_Key__c = {}", key)
    assert sf.query(soql)["totalSize"] == 1


def test_query_job_pages_with_locators(fresh: Any, fresh_sf: Any) -> None:
    fresh.seed("bench", 250)
    pages = list(
        fresh_sf.bulk2.Opportunity.query(
            "SELECT Id, Name, Owner.Email, CloseDate, IsClosed FROM Opportunity ORDER BY Name",
            max_records=100,
            wait=0,
        )
    )
    assert len(pages) == 3
    rows = [row for page in pages for row in _rows(page)]
    assert len(rows) == 250
    assert list(rows[0]) == ["Id", "Name", "Owner.Email", "CloseDate", "IsClosed"]
    assert rows[0]["Name"] == "Bench Engagement 000000"
    assert rows[0]["IsClosed"] in ("true", "false") and len(rows[0]["CloseDate"]) == 10


def test_query_job_refuses_subqueries_and_bad_soql(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        list(
            sf.bulk2.Opportunity.query("SELECT Id, (SELECT Id FROM Tasks) FROM Opportunity", wait=0)
        )
    assert first_error(raised.value)["errorCode"] == "INVALIDJOB"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        list(sf.bulk2.Opportunity.query("SELECT Nope__c FROM Opportunity", wait=0))
    assert first_error(raised.value)["errorCode"] == "INVALID_FIELD"
