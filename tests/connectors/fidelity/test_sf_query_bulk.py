"""queryAll paging, column metadata, Bulk API 2.0 jobs over real time, and ``limits``."""

from __future__ import annotations

import time
from typing import Any

from servefirst.connectors.salesforce.sandbox import RunningSandbox

DOCUMENTED_LIMITS = {
    "DailyApiRequests",
    "DailyAsyncApexExecutions",
    "DailyBulkApiBatches",
    "DailyBulkV2QueryFileStorageMB",
    "DailyBulkV2QueryJobs",
    "DataStorageMB",
    "FileStorageMB",
    "HourlyTimeBasedWorkflow",
    "SingleEmail",
}


def test_query_all_pages_through_query_locators(sf: Any, fresh_org: RunningSandbox) -> None:
    fresh_org.seed("bench", 450)
    first = sf.restful(
        "queryAll",
        params={"q": "SELECT Id FROM Opportunity"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    again = sf.restful(f"queryAll/{locator}")
    assert second["records"] == again["records"] and len(second["records"]) == 200
    every = sf.query_all("SELECT Id FROM Opportunity", include_deleted=True)
    assert every["totalSize"] == first["totalSize"] == len(every["records"])


def test_columns_true_describes_the_columns_without_rows(sf: Any) -> None:
    meta = sf.restful(
        "query",
        params={
            "q": "SELECT Id, Name, Owner.Name, Owner.Email FROM Opportunity",
            "columns": "true",
        },
    )
    assert "records" not in meta
    assert (meta["entityName"], meta["keyPrefix"], meta["idSelected"]) == (
        "Opportunity",
        "006",
        True,
    )
    names = [c["columnName"] for c in meta["columnMetadata"]]
    assert names == ["Id", "Name", "Owner"]
    owner = meta["columnMetadata"][2]
    assert [j["columnName"] for j in owner["joinColumns"]] == ["Name", "Email"]
    grouped = sf.restful(
        "query",
        params={
            "q": "SELECT StageName, COUNT(Id) FROM Opportunity GROUP BY StageName",
            "columns": "true",
        },
    )
    assert grouped["groupBy"] is True and grouped["entityName"] == "AggregateResult"
    count = grouped["columnMetadata"][1]
    assert (count["columnName"], count["displayName"], count["aggregate"]) == (
        "expr0",
        "COUNT(Id)",
        True,
    )


def _poll_states(sf: Any, path: str, job_id: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = sf.restful(f"{path}/{job_id}")["state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "JobComplete":
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never completed: {seen}")


def test_bulk_jobs_move_through_their_states_over_time(sf: Any, fresh_org: RunningSandbox) -> None:
    fresh_org.admin.call("POST", "/bulk", {"job_seconds": 0.6})
    try:
        job = sf.restful(
            "jobs/query", method="POST", json={"operation": "query", "query": "SELECT Id FROM User"}
        )
        assert job["state"] == "UploadComplete"
        too_soon = sf.session.get(
            f"{sf.base_url}jobs/query/{job['id']}/results", headers=sf.headers
        )
        assert too_soon.status_code == 400
        assert _poll_states(sf, "jobs/query", job["id"]) == [
            "UploadComplete",
            "InProgress",
            "JobComplete",
        ]
        [ingest] = sf.bulk2.Account.insert(records=[{"Name": "Bulk polled"}], wait=0.1)
        assert ingest["numberRecordsProcessed"] == 1
    finally:
        fresh_org.admin.call("POST", "/bulk", {"job_seconds": 2.0})


def test_get_all_jobs_lists_and_pages(sf: Any, fresh_org: RunningSandbox) -> None:
    fresh_org.admin.call("POST", "/bulk", {"job_seconds": 0})
    try:
        before = sf.restful("jobs/query")["records"]
        created = [
            sf.restful(
                "jobs/query",
                method="POST",
                json={"operation": "query", "query": "SELECT Id FROM User"},
            )["id"]
            for _ in range(1001 - len(before))
        ]
    finally:
        fresh_org.admin.call("POST", "/bulk", {"job_seconds": 2.0})
    first = sf.restful("jobs/query")
    assert first["done"] is False and len(first["records"]) == 1000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/jobs/query?queryLocator=")
    rest = sf.restful(first["nextRecordsUrl"].removeprefix("/services/data/v59.0/"))
    assert rest["done"] is True and rest["nextRecordsUrl"] is None
    listed = [j["id"] for j in first["records"] + rest["records"]]
    assert listed[-1] == created[-1] and len(set(listed)) == 1001
    assert {j["jobType"] for j in first["records"]} == {"V2Query"}
    ingest = sf.restful("jobs/ingest", params={"jobType": "V2Ingest"})
    assert all(j["jobType"] == "V2Ingest" for j in ingest["records"])
    assert sf.restful("jobs/query", params={"jobType": "Classic"})["records"] == []


def test_limits_list_the_documented_keys_and_count_bulk_use(sf: Any) -> None:
    limits = sf.limits()
    assert set(limits) >= DOCUMENTED_LIMITS
    assert all(set(v) == {"Max", "Remaining"} for v in limits.values())
    sf.restful(
        "jobs/query", method="POST", json={"operation": "query", "query": "SELECT Id FROM User"}
    )
    after = sf.limits()
    for key in ("DailyBulkV2QueryJobs", "DailyApiRequests"):
        assert after[key]["Remaining"] < limits[key]["Remaining"], key
