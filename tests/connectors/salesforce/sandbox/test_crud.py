"""Single-record CRUD, upsert and describe, through simple-salesforce."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.ids import checksum
from servefirst.connectors.salesforce.sandbox.testing import first_error, grant_field_access


def _account(sf: Any) -> str:
    return str(sf.Account.create({"Name": "CRUD Test Co"})["id"])


def _opportunity(sf: Any, **values: Any) -> str:
    body = {"Name": "CRUD deal", "StageName": "Discover", "CloseDate": "2030-01-15", **values}
    return str(sf.Opportunity.create(body)["id"])


def test_create_answers_201_with_an_18_char_id_of_the_right_prefix(sf: Any) -> None:
    result = sf.Account.create({"Name": "Prefix Co"})
    assert result["success"] is True and result["errors"] == []
    record_id = result["id"]
    assert len(record_id) == 18 and record_id.startswith("001")
    assert record_id[15:] == checksum(record_id[:15])


def test_get_returns_attributes_and_every_field_in_wire_formats(sf: Any) -> None:
    record = sf.Opportunity.get(_opportunity(sf, Amount=1200))
    assert record["attributes"]["type"] == "Opportunity"
    assert record["attributes"]["url"].endswith(record["Id"])
    assert record["CloseDate"] == "2030-01-15"
    assert record["Amount"] == 1200.0
    stamp = record["SystemModstamp"]
    assert len(stamp) == 28 and stamp.endswith("+0000") and stamp[19] == "."


def test_fifteen_char_ids_are_accepted(sf: Any) -> None:
    record_id = _account(sf)
    assert sf.Account.get(record_id[:15])["Id"] == record_id


def test_update_answers_204_and_moves_the_stamps(sf: Any) -> None:
    record_id = _opportunity(sf)
    before = sf.Opportunity.get(record_id)
    time.sleep(0.002)
    assert sf.Opportunity.update(record_id, {"StageName": "Design"}) == 204
    after = sf.Opportunity.get(record_id)
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["CreatedDate"] == before["CreatedDate"]


def test_stage_drives_closed_won_probability_and_forecast(sf: Any) -> None:
    record_id = _opportunity(sf)
    opened = sf.Opportunity.get(record_id)
    assert (opened["IsClosed"], opened["IsWon"], opened["Probability"]) == (False, False, 10.0)
    sf.Opportunity.update(record_id, {"StageName": "Closed Won"})
    won = sf.Opportunity.get(record_id)
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100.0)
    assert won["ForecastCategoryName"] == "Closed"


@pytest.mark.parametrize(
    ("values", "code", "fields"),
    [
        ({"Name": "x", "StageName": "Discover"}, "REQUIRED_FIELD_MISSING", ["CloseDate"]),
        ({"StageName": "Discover"}, "REQUIRED_FIELD_MISSING", ["Name", "CloseDate"]),
        (
            {"Name": "x", "StageName": "Discover", "CloseDate": "2030-01-01", "IsWon": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            ["IsWon"],
        ),
        (
            {"Name": "x", "StageName": "Dreaming", "CloseDate": "2030-01-01"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["StageName"],
        ),
        (
            {"Name": "x" * 121, "StageName": "Discover", "CloseDate": "2030-01-01"},
            "STRING_TOO_LONG",
            ["Name"],
        ),
        (
            {"Name": "x", "StageName": "Discover", "CloseDate": "2030-01-01", "AccountId": "bad"},
            "MALFORMED_ID",
            ["AccountId"],
        ),
    ],
)
def test_create_validation_errors(
    sf: Any, values: dict[str, Any], code: str, fields: list[str]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.create(values)
    error = first_error(raised.value)
    assert error["errorCode"] == code
    assert error["fields"] == fields


@pytest.mark.parametrize(
    "value", ["2030-01-15T00:00:00Z", "2030-01-15T00:00:00.000+0000", 20300115, "15/01/2030"]
)
def test_a_date_field_only_takes_yyyy_mm_dd(sf: Any, value: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.create({"Name": "x", "StageName": "Discover", "CloseDate": value})
    assert first_error(raised.value)["errorCode"] == "JSON_PARSER_ERROR"


def test_unknown_field_is_invalid_field(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create({"Name": "x", "Nope__c": 1})
    error = first_error(raised.value)
    assert error["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Nope__c' on sobject of type Account" in error["message"]


def test_read_only_field_on_update(sf: Any) -> None:
    record_id = _opportunity(sf)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.update(record_id, {"IsClosed": True})
    assert first_error(raised.value)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_required_field_cannot_be_cleared(sf: Any) -> None:
    record_id = _opportunity(sf)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.update(record_id, {"CloseDate": None})
    assert first_error(raised.value)["fields"] == ["CloseDate"]


def test_lookup_to_the_wrong_object_is_refused(sf: Any) -> None:
    contact = sf.Contact.create({"LastName": "Wrong"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        _opportunity(sf, AccountId=contact)
    assert first_error(raised.value)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_unknown_record_is_404_not_found(sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.get("001Hs0000000zzzIAA"[:15])
    assert first_error(raised.value)["errorCode"] == "NOT_FOUND"


def test_delete_then_get_is_entity_is_deleted_and_query_all_shows_it(sf: Any) -> None:
    record_id = _opportunity(sf)
    assert sf.Opportunity.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Opportunity.get(record_id)
    assert first_error(raised.value)["errorCode"] == "ENTITY_IS_DELETED"
    soql = format_soql("SELECT Id, IsDeleted FROM Opportunity WHERE Id = {}", record_id)
    assert sf.query(soql)["totalSize"] == 0
    found = sf.query(soql, include_deleted=True)
    assert found["records"][0]["IsDeleted"] is True


def test_deleting_an_opportunity_cascades_to_its_contact_roles(sf: Any) -> None:
    record_id = _opportunity(sf)
    contact = sf.Contact.create({"LastName": "Cascade"})["id"]
    role = sf.OpportunityContactRole.create({"OpportunityId": record_id, "ContactId": contact})[
        "id"
    ]
    sf.Opportunity.delete(record_id)
    with pytest.raises(SalesforceResourceNotFound):
        sf.OpportunityContactRole.get(role)


def test_if_unmodified_since_gives_412_when_changed_later(sf: Any) -> None:
    record_id = _opportunity(sf)
    with pytest.raises(SalesforceGeneralError) as raised:
        sf.Opportunity.update(
            record_id,
            {"NextStep": "call"},
            headers={"If-Unmodified-Since": "Wed, 01 May 2024 12:00:00 GMT"},
        )
    assert raised.value.status == 412
    assert (
        sf.Opportunity.update(
            record_id,
            {"NextStep": "call"},
            headers={"If-Unmodified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        )
        == 204
    )


def test_editing_a_contact_role_keeps_the_opportunity_stamp(sf: Any) -> None:
    record_id = _opportunity(sf)
    contact = sf.Contact.create({"LastName": "Sponsor"})["id"]
    role = sf.OpportunityContactRole.create(
        {"OpportunityId": record_id, "ContactId": contact, "Role": "Evaluator"}
    )["id"]
    opportunity_before = sf.Opportunity.get(record_id)["SystemModstamp"]
    role_before = sf.OpportunityContactRole.get(role)["SystemModstamp"]
    time.sleep(0.002)
    sf.OpportunityContactRole.update(role, {"Role": "Executive Sponsor"})
    assert sf.Opportunity.get(record_id)["SystemModstamp"] == opportunity_before
    assert sf.OpportunityContactRole.get(role)["SystemModstamp"] > role_before


def test_contact_role_opportunity_is_not_updatable(sf: Any) -> None:
    record_id = _opportunity(sf)
    contact = sf.Contact.create({"LastName": "Fixed"})["id"]
    role = sf.OpportunityContactRole.create({"OpportunityId": record_id, "ContactId": contact})[
        "id"
    ]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.OpportunityContactRole.update(role, {"OpportunityId": _opportunity(sf)})
    assert first_error(raised.value)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_task_upsert_by_external_id_creates_then_updates(sf: Any) -> None:
    key = f"upsert-{time.time_ns()}"
    opportunity = _opportunity(sf)
    body = {"Subject": "Agree the Operational Date", "WhatId": opportunity, "Status": "Not Started"}
    created = sf.Task.upsert(f"ServeFirst_Key__c/{key}", body, raw_response=True)
    assert created.status_code == 201 and created.json()["created"] is True
    updated = sf.Task.upsert(f"ServeFirst_Key__c/{key}", {"Status": "Completed"}, raw_response=True)
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert updated.json()["id"] == created.json()["id"]
    task = sf.Task.get(created.json()["id"])
    assert (task["Status"], task["IsClosed"], task["Priority"]) == ("Completed", True, "Normal")


def test_upsert_on_a_duplicate_key_is_refused_and_get_by_key_works(sf: Any) -> None:
    key = f"dup-{time.time_ns()}"
    first = sf.Task.create({"Subject": "one", "ServeFirst_Key__c": key})["id"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Task.create({"Subject": "two", "ServeFirst_Key__c": key.upper()})
    assert first_error(raised.value)["errorCode"] == "DUPLICATE_VALUE"
    assert sf.Task.get_by_custom_id("ServeFirst_Key__c", key)["Id"] == first


def test_upsert_on_a_non_external_id_field_is_404(sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Task.upsert("Subject/abc", {"Status": "Completed"})


def test_upsert_matching_several_records_is_300(demo: Any, sf: Any) -> None:
    # Email is no external id in Salesforce, so build the ambiguity on an external id field
    # whose values may repeat: Task's key is unique, so use a non-unique external id.
    sf.toolingexecute(
        "sobjects/CustomField/",
        method="POST",
        data={
            "FullName": "Account.Legacy_Key__c",
            "Metadata": {"type": "Text", "label": "Legacy Key", "length": 20, "externalId": True},
        },
    )
    grant_field_access(sf, "Account.Legacy_Key__c")
    sf.Account.create({"Name": "Twin A", "Legacy_Key__c": "twin"})
    sf.Account.create({"Name": "Twin B", "Legacy_Key__c": "twin"})
    with pytest.raises(SalesforceMoreThanOneRecord) as raised:
        sf.Account.upsert("Legacy_Key__c/twin", {"Name": "Either"})
    assert len(raised.value.content) == 2


def test_describe_reports_fields_picklists_and_relationships(sf: Any) -> None:
    describe = sf.Opportunity.describe()
    assert describe["keyPrefix"] == "006"
    fields = {f["name"]: f for f in describe["fields"]}
    stage = fields["StageName"]
    assert [v["value"] for v in stage["picklistValues"]][:4] == [
        "Discover",
        "Diagnose",
        "Design",
        "Deliver",
    ]
    assert fields["IsWon"]["updateable"] is False
    assert fields["OwnerId"]["relationshipName"] == "Owner"
    assert fields["Operational_Date__c"]["type"] == "date"
    children = {c["relationshipName"] for c in describe["childRelationships"]}
    assert {"OpportunityContactRoles", "Tasks"} <= children


def test_global_describe_lists_objects(sf: Any) -> None:
    names = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert names["Task"] == "00T" and names["OpportunityContactRole"] == "00K"


def test_opportunity_stage_is_read_only_and_queryable(sf: Any) -> None:
    stages = sf.query(
        "SELECT MasterLabel, IsClosed, IsWon, DefaultProbability FROM OpportunityStage "
        "WHERE IsActive = true ORDER BY SortOrder"
    )["records"]
    assert [s["MasterLabel"] for s in stages][-2:] == ["Closed Won", "Closed Lost"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.OpportunityStage.create({"MasterLabel": "New"})


def test_datetime_fields_take_the_documented_formats(fresh_sf: Any) -> None:
    fresh_sf.toolingexecute(
        "sobjects/CustomField/",
        method="POST",
        data={
            "FullName": "Task.Reminder__c",
            "Metadata": {"type": "DateTime", "label": "Reminder"},
        },
    )
    grant_field_access(fresh_sf, "Task.Reminder__c")
    for value in (
        "2030-01-02T03:04:05Z",
        "2030-01-02T04:04:05+01:00",
        "2030-01-02T03:04:05.000+0000",
    ):
        task = fresh_sf.Task.create({"Subject": "t", "Reminder__c": value})["id"]
        assert fresh_sf.Task.get(task)["Reminder__c"] == "2030-01-02T03:04:05.000+0000"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.Task.create({"Subject": "t", "Reminder__c": "2030-01-02"})
    assert first_error(raised.value)["errorCode"] == "JSON_PARSER_ERROR"


def test_get_with_fields_returns_only_those(sf: Any) -> None:
    record = sf.Opportunity.get(_opportunity(sf), params={"fields": "Name,StageName"})
    assert list(record) == ["attributes", "Name", "StageName"]


def test_deleting_an_account_cascades_to_contacts_and_opportunities(sf: Any) -> None:
    account = _account(sf)
    contact = sf.Contact.create({"LastName": "Gone", "AccountId": account})["id"]
    opportunity = _opportunity(sf, AccountId=account)
    sf.Account.delete(account)
    for sobject, record_id in (("Contact", contact), ("Opportunity", opportunity)):
        with pytest.raises(SalesforceResourceNotFound):
            getattr(sf, sobject).get(record_id)


def test_composite_retrieve_gives_null_for_missing_records(sf: Any) -> None:
    record_id = _account(sf)
    sf.Account.delete(record_id)
    alive = _account(sf)
    result = sf.restful(
        "composite/sobjects/Account", params={"ids": f"{record_id},{alive}", "fields": "Name"}
    )
    assert result[0] is None and result[1]["Name"] == "CRUD Test Co"


def test_updated_and_deleted_replication_windows(sf: Any) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    kept, doomed = _account(sf), _account(sf)
    sf.Account.delete(doomed)
    end = datetime.now(UTC) + timedelta(minutes=1)
    updated = sf.Account.updated(start, end)
    assert kept in updated["ids"] and doomed not in updated["ids"]
    deleted = sf.Account.deleted(start, end)
    deleted_ids = [r["id"] for r in deleted["deletedRecords"]]
    assert doomed in deleted_ids and kept not in deleted_ids
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.deleted(start - timedelta(days=20), end)
    assert first_error(raised.value)["errorCode"] == "INVALID_REPLICATION_DATE"


def test_demo_seeding_twice_changes_nothing(demo: Any, sf: Any) -> None:
    before = sf.query("SELECT COUNT() FROM Opportunity")["totalSize"]
    assert demo.seed("demo", 0) == {}
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == before


def test_one_primary_contact_role_per_opportunity(sf: Any) -> None:
    record_id = _opportunity(sf)
    roles = []
    for name in ("First", "Second"):
        contact = sf.Contact.create({"LastName": name})["id"]
        body = {"OpportunityId": record_id, "ContactId": contact, "IsPrimary": True}
        roles.append(sf.OpportunityContactRole.create(body)["id"])
    primaries = sf.query(
        format_soql(
            "SELECT Id FROM OpportunityContactRole WHERE OpportunityId = {} AND IsPrimary = true",
            record_id,
        )
    )["records"]
    assert [r["Id"] for r in primaries] == [roles[1]]
