"""Object-specific save checks Salesforce applies beyond field types (system validation).

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


CHECKS: dict[str, Check] = {"FieldPermissions": _field_permissions}
