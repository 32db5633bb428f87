"""sObject Collections: what allOrNone rollback reports per record, and ids of the wrong type."""

from __future__ import annotations

from typing import Any

ROLLED_BACK = "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["statusCode"] for e in result["errors"]]


def test_a_rolled_back_create_reports_no_id(sf: Any) -> None:
    records = [
        {"attributes": {"type": "Account"}, "Name": "Kept only if all are valid"},
        {"attributes": {"type": "Account"}},
    ]
    first, second = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert first == {"success": False, "errors": first["errors"]} and _codes(first) == [ROLLED_BACK]
    assert "id" not in second and _codes(second) == ["REQUIRED_FIELD_MISSING"]
    found = sf.query("SELECT Id FROM Account WHERE Name = 'Kept only if all are valid'")
    assert found["totalSize"] == 0


def test_rolled_back_updates_and_deletes_keep_their_ids(sf: Any) -> None:
    account = sf.Account.create({"Name": "Rollback target"})["id"]
    records = [
        {"attributes": {"type": "Account"}, "id": account, "Name": "Renamed"},
        {"attributes": {"type": "Account"}, "id": account, "Name": ""},
    ]
    updated = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records}
    )
    assert updated[0]["id"] == account and _codes(updated[0]) == [ROLLED_BACK]
    assert sf.Account.get(account)["Name"] == "Rollback target"
    deleted = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{account},001000000000000AAA", "allOrNone": "true"},
    )
    assert deleted[0]["id"] == account and _codes(deleted[0]) == [ROLLED_BACK]


def test_an_id_of_another_object_type_is_malformed(sf: Any) -> None:
    account = sf.Account.create({"Name": "Not a contact"})["id"]
    [result] = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Contact"}, "id": account, "LastName": "X"}]},
    )
    assert result["success"] is False
    [error] = result["errors"]
    assert error["statusCode"] == "MALFORMED_ID" and error["fields"] == ["Id"]
    assert account in error["message"]
