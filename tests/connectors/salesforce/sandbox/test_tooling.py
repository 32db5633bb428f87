"""Tooling API: custom fields, field-level security and validation rules."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.testing import (
    create_custom_field,
    first_error,
    grant_field_access,
)

OPERATIONAL_DATE = {"type": "Date", "label": "Operational Date", "inlineHelpText": "When it runs"}


def _opportunity(sf: Any, **values: Any) -> str:
    body = {"Name": "Rule deal", "StageName": "Discover", "CloseDate": "2030-01-15", **values}
    return str(sf.Opportunity.create(body)["id"])


def test_a_new_field_is_invisible_until_field_permissions_grant_it(fresh_sf: Any) -> None:
    sf = fresh_sf
    field_id = create_custom_field(sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    assert field_id.startswith("00N") and len(field_id) == 18
    names = {f["name"] for f in sf.Opportunity.describe()["fields"]}
    assert "Operational_Date__c" not in names
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id, Operational_Date__c FROM Opportunity")
    error = first_error(raised.value)
    assert error["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Operational_Date__c' on entity 'Opportunity'" in error["message"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        _opportunity(sf, Operational_Date__c="2030-03-01")
    assert first_error(raised.value)["errorCode"] == "INVALID_FIELD"

    grant_field_access(sf, "Opportunity.Operational_Date__c")
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Operational_Date__c"]["custom"] is True
    assert fields["Operational_Date__c"]["inlineHelpText"] == "When it runs"
    record_id = _opportunity(sf, Operational_Date__c="2030-03-01")
    row = sf.query(
        format_soql("SELECT Operational_Date__c FROM Opportunity WHERE Id = {}", record_id)
    )
    assert row["records"][0]["Operational_Date__c"] == "2030-03-01"


def test_read_only_field_permission_blocks_writes(fresh_sf: Any) -> None:
    sf = fresh_sf
    create_custom_field(sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(sf, "Opportunity.Operational_Date__c", edit=False)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        _opportunity(sf, Operational_Date__c="2030-03-01")
    assert first_error(raised.value)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    permission = sf.query(
        "SELECT Id, PermissionsEdit FROM FieldPermissions "
        "WHERE Field = 'Opportunity.Operational_Date__c'"
    )["records"][0]
    sf.FieldPermissions.update(permission["Id"], {"PermissionsEdit": True})
    assert _opportunity(sf, Operational_Date__c="2030-03-01").startswith("006")


def test_duplicate_field_is_refused(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    assert (
        "There is already a field named Operational_Date on Opportunity"
        in (first_error(raised.value)["message"])
    )


@pytest.mark.parametrize(
    ("metadata", "needle"),
    [
        ({"type": "Text", "label": "X"}, "Length"),
        ({"type": "LongTextArea", "label": "X", "length": 32768}, "Visible Lines"),
        ({"type": "Checkbox", "label": "X"}, "Default Value"),
        ({"type": "Number", "label": "X", "precision": 19, "scale": 0}, "Length"),
        ({"type": "Picklist", "label": "X"}, "Values"),
        ({"type": "Date"}, "Field Label"),
        ({"type": "Hologram", "label": "X"}, "not supported"),
    ],
)
def test_invalid_field_metadata_is_explained(
    fresh_sf: Any, metadata: dict[str, Any], needle: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        create_custom_field(fresh_sf, "Opportunity.Thing__c", metadata)
    assert needle in first_error(raised.value)["message"]


def test_existing_fields_are_found_by_developer_name_and_patched(fresh_sf: Any) -> None:
    sf = fresh_sf
    field_id = create_custom_field(sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    soql = format_soql(
        "SELECT Id, DeveloperName, FullName, Metadata FROM CustomField "
        "WHERE TableEnumOrId = {} AND DeveloperName = {}",
        "Opportunity",
        "Operational_Date",
    )
    found = sf.toolingexecute("query/?q=" + soql)
    assert found["totalSize"] == 1
    record = found["records"][0]
    assert record["Id"] == field_id and record["FullName"] == "Opportunity.Operational_Date__c"
    assert record["Metadata"]["label"] == "Operational Date"
    sf.toolingexecute(
        f"sobjects/CustomField/{field_id}",
        method="PATCH",
        data={"Metadata": {**OPERATIONAL_DATE, "label": "Operational date (sponsor)"}},
    )
    again = sf.toolingexecute(f"sobjects/CustomField/{field_id}")
    assert again["Metadata"]["label"] == "Operational date (sponsor)"


def test_metadata_of_several_rows_is_refused(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.A__c", {"type": "Date", "label": "A"})
    create_custom_field(fresh_sf, "Opportunity.B__c", {"type": "Date", "label": "B"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.toolingexecute("query/?q=SELECT Id, Metadata FROM CustomField")
    assert first_error(raised.value)["errorCode"] == "MALFORMED_QUERY"
    ids = fresh_sf.toolingexecute("query/?q=SELECT Id, DeveloperName FROM CustomField")
    assert ids["size"] == 2 and ids["entityTypeName"] == "CustomField"


def test_restricted_picklist_and_checkbox_default(fresh_sf: Any) -> None:
    sf = fresh_sf
    existing = _opportunity(sf)
    create_custom_field(
        sf,
        "Opportunity.Playbook_Health__c",
        {
            "type": "Picklist",
            "label": "Playbook Health",
            "valueSet": {
                "restricted": True,
                "valueSetDefinition": {
                    "sorted": False,
                    "value": [
                        {"fullName": v, "label": v, "default": False}
                        for v in ("On track", "At risk")
                    ],
                },
            },
        },
    )
    create_custom_field(
        sf,
        "Opportunity.Success_Confirmed__c",
        {"type": "Checkbox", "label": "Done", "defaultValue": "false"},
    )
    grant_field_access(sf, "Opportunity.Playbook_Health__c", "Opportunity.Success_Confirmed__c")
    assert sf.Opportunity.get(existing)["Success_Confirmed__c"] is False
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.update(existing, {"Playbook_Health__c": "Doomed"})
    error = first_error(raised.value)
    assert error["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert error["message"] == "Playbook Health: bad value for restricted picklist field: Doomed"
    sf.Opportunity.update(existing, {"Playbook_Health__c": "At risk"})


RULE = {
    "active": True,
    "errorConditionFormula": 'AND(NOT(ISPICKVAL(StageName, "Discover")), NOT(IsClosed), '
    "ISBLANK(Operational_Date__c))",
    "errorMessage": "Agree the Operational Date with your sponsor before leaving Discover.",
    "errorDisplayField": "Operational_Date__c",
}


def _with_rule(sf: Any) -> str:
    create_custom_field(sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(sf, "Opportunity.Operational_Date__c")
    result = sf.toolingexecute(
        "sobjects/ValidationRule/",
        method="POST",
        data={"FullName": "Opportunity.ServeFirst_Operational_Date", "Metadata": RULE},
    )
    return str(result["id"])


def test_validation_rule_blocks_matching_writes(fresh_sf: Any) -> None:
    sf = fresh_sf
    rule_id = _with_rule(sf)
    assert rule_id.startswith("03d")
    record_id = _opportunity(sf)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.update(record_id, {"StageName": "Diagnose"})
    error = first_error(raised.value)
    assert error == {
        "message": RULE["errorMessage"],
        "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "fields": ["Operational_Date__c"],
    }
    sf.Opportunity.update(record_id, {"StageName": "Diagnose", "Operational_Date__c": "2030-02-01"})
    sf.Opportunity.update(record_id, {"StageName": "Closed Lost", "Operational_Date__c": None})


def test_validation_rule_is_queryable_and_can_be_deactivated(fresh_sf: Any) -> None:
    sf = fresh_sf
    rule_id = _with_rule(sf)
    found = sf.toolingexecute(
        "query/?q=SELECT Id, ValidationName, Active, ErrorMessage FROM ValidationRule "
        "WHERE EntityDefinitionId = 'Opportunity'"
    )
    assert found["records"][0]["ValidationName"] == "ServeFirst_Operational_Date"
    sf.toolingexecute(
        f"sobjects/ValidationRule/{rule_id}",
        method="PATCH",
        data={"Metadata": {**RULE, "active": False}},
    )
    assert _opportunity(sf, StageName="Design").startswith("006")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("FOO(StageName)", "Unknown function FOO. Check spelling."),
        ("ISBLANK(Nope__c)", "Field Nope__c does not exist. Check spelling."),
        ('StageName = "Design"', "Field StageName is a picklist field"),
        ("AND(IsClosed", "Syntax error"),
    ],
)
def test_bad_formulas_are_refused_at_create_time(fresh_sf: Any, formula: str, message: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.toolingexecute(
            "sobjects/ValidationRule/",
            method="POST",
            data={
                "FullName": "Opportunity.Bad_Rule",
                "Metadata": {**RULE, "errorConditionFormula": formula, "errorDisplayField": None},
            },
        )
    assert message in first_error(raised.value)["message"]


def test_permission_set_is_queryable_by_name(sf: Any) -> None:
    found = sf.query(
        "SELECT Id, Name, Label FROM PermissionSet WHERE Name = 'ServeFirst_Integration'"
    )
    assert found["totalSize"] == 1 and found["records"][0]["Id"].startswith("0PS")


def test_describe_marks_read_only_custom_fields_not_updateable(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(fresh_sf, "Opportunity.Operational_Date__c", edit=False)
    fields = {f["name"]: f for f in fresh_sf.Opportunity.describe()["fields"]}
    assert fields["Operational_Date__c"]["updateable"] is False
    assert fields["Operational_Date__c"]["createable"] is False


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"Field": "Opportunity.Nope__c"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"SobjectType": "Task"}, "FIELD_INTEGRITY_EXCEPTION"),
        ({"PermissionsRead": False, "PermissionsEdit": True}, "FIELD_INTEGRITY_EXCEPTION"),
    ],
)
def test_field_permissions_are_validated(fresh_sf: Any, values: dict[str, Any], code: str) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    parent = fresh_sf.query("SELECT Id FROM PermissionSet")["records"][0]["Id"]
    body = {
        "ParentId": parent,
        "SobjectType": "Opportunity",
        "Field": "Opportunity.Operational_Date__c",
        "PermissionsRead": True,
        "PermissionsEdit": True,
        **values,
    }
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.FieldPermissions.create(body)
    assert first_error(raised.value)["errorCode"] == code


def test_field_permissions_once_per_field(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(fresh_sf, "Opportunity.Operational_Date__c")
    with pytest.raises(SalesforceMalformedRequest) as raised:
        grant_field_access(fresh_sf, "Opportunity.Operational_Date__c")
    assert first_error(raised.value)["errorCode"] == "DUPLICATE_VALUE"


def test_deleting_field_permissions_hides_the_field_again(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(fresh_sf, "Opportunity.Operational_Date__c")
    permission = fresh_sf.query("SELECT Id FROM FieldPermissions")["records"][0]["Id"]
    fresh_sf.FieldPermissions.delete(permission)
    names = {f["name"] for f in fresh_sf.Opportunity.describe()["fields"]}
    assert "Operational_Date__c" not in names


PATH = {
    "active": True,
    "entityName": "Opportunity",
    "fieldName": "StageName",
    "masterLabel": "Serve-first path",
    "recordTypeName": "__MASTER__",
    "pathAssistantSteps": [
        {
            "picklistValueName": "Diagnose",
            "fieldNames": ["Operational_Date__c"],
            "info": "<p>Work out the cost of the problem with your sponsor.</p>",
        }
    ],
}


def test_path_assistant_create_query_and_validation(fresh_sf: Any) -> None:
    create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    created = fresh_sf.toolingexecute(
        "sobjects/PathAssistant/",
        method="POST",
        data={"FullName": "ServeFirst_Path", "Metadata": PATH},
    )
    assert created["id"].startswith("04I")
    found = fresh_sf.toolingexecute(
        "query/?q=SELECT Id, MasterLabel, SobjectType, IsActive, Metadata FROM PathAssistant"
    )
    record = found["records"][0]
    assert (record["MasterLabel"], record["SobjectType"], record["IsActive"]) == (
        "Serve-first path",
        "Opportunity",
        True,
    )
    assert record["Metadata"]["pathAssistantSteps"][0]["picklistValueName"] == "Diagnose"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.toolingexecute(
            "sobjects/PathAssistant/",
            method="POST",
            data={"FullName": "Second_Path", "Metadata": PATH},
        )
    assert "already an active path" in first_error(raised.value)["message"]
    bad_step = {**PATH, "active": False, "pathAssistantSteps": [{"picklistValueName": "Dreaming"}]}
    with pytest.raises(SalesforceMalformedRequest) as raised:
        fresh_sf.toolingexecute(
            "sobjects/PathAssistant/",
            method="POST",
            data={"FullName": "Bad_Path", "Metadata": bad_step},
        )
    assert (
        "'Dreaming' is not a value of Opportunity.StageName" in first_error(raised.value)["message"]
    )


def test_deleting_a_custom_field_removes_it(fresh_sf: Any) -> None:
    field_id = create_custom_field(fresh_sf, "Opportunity.Operational_Date__c", OPERATIONAL_DATE)
    grant_field_access(fresh_sf, "Opportunity.Operational_Date__c")
    fresh_sf.toolingexecute(f"sobjects/CustomField/{field_id}", method="DELETE")
    with pytest.raises(SalesforceMalformedRequest):
        fresh_sf.query("SELECT Operational_Date__c FROM Opportunity")
    assert fresh_sf.toolingexecute("query/?q=SELECT Id FROM CustomField")["totalSize"] == 0
