"""Object-specific save rules Salesforce applies beyond field types.

Checks run before a save and may refuse it; after-save rules change other records.

FieldPermissions: ``Field`` must name an existing field as ``Object.Field`` (Salesforce treats
it as a restricted picklist of the org's fields), its object must match ``SobjectType``, Edit
needs Read, and one permission set holds at most one row per field.
"""

from __future__ import annotations

from collections.abc import Callable

from servefirst.connectors.salesforce.sandbox.errors import bad_request
from servefirst.connectors.salesforce.sandbox.store import Record, Store

Check = Callable[[Store, Record], None]


def _field_permissions(store: Store, record: Record) -> None:
    field_name = str(record.get("Field") or "")
    object_name, _, member = field_name.partition(".")
    obj = store.data.get(object_name)
    definition = obj.field(member) if obj is not None and member else None
    if obj is None or definition is None:
        raise bad_request(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Field Name: bad value for restricted picklist field: {field_name}",
            ["Field"],
        )
    if str(record.get("SobjectType")) != obj.name:
        raise bad_request(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Sobject Type Name: {record.get('SobjectType')} does not match the field's "
            f"object {obj.name}",
            ["SobjectType"],
        )
    if record.get("PermissionsEdit") and not record.get("PermissionsRead"):
        raise bad_request(
            "FIELD_INTEGRITY_EXCEPTION",
            "Permission Edit depends on permission(s): Read",
            ["PermissionsEdit"],
        )
    for other in store.tables["FieldPermissions"].values():
        if (
            other["Id"] != record["Id"]
            and not other.get("IsDeleted")
            and other.get("ParentId") == record.get("ParentId")
            and str(other.get("Field")).lower() == field_name.lower()
        ):
            raise bad_request(
                "DUPLICATE_VALUE",
                "duplicate value found: <unknown> duplicates value on record with id: <unknown>",
                [],
            )


def _single_primary(store: Store, record: Record) -> None:
    """An opportunity has at most one primary contact role: a new primary demotes the others.

    The demoted roles are saved too (their SystemModstamp moves), the Opportunity is not.
    """
    if not record.get("IsPrimary") or record.get("IsDeleted"):
        return
    table = store.tables["OpportunityContactRole"]
    for other_id in store.children(
        "OpportunityContactRole", "OpportunityId", record["OpportunityId"]
    ):
        other = table[other_id]
        if other_id != record["Id"] and other.get("IsPrimary") and not other.get("IsDeleted"):
            now = store.clock.now()
            stamps = {"LastModifiedDate": now, "SystemModstamp": now}
            store.put("OpportunityContactRole", {**other, "IsPrimary": False, **stamps})


CHECKS: dict[str, Check] = {"FieldPermissions": _field_permissions}
AFTER_SAVE: dict[str, Check] = {"OpportunityContactRole": _single_primary}
