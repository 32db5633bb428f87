"""Tooling API metadata writes: CustomField, ValidationRule and PathAssistant records.

Each type turns a ``{"FullName", "Metadata"}`` body into the columns its Tooling sObject
exposes to queries (DeveloperName, TableEnumOrId, ValidationName, Active...). A PATCH replaces
the whole Metadata, as Salesforce does. The schema and the compiled rules follow the records
through store listeners, so a rolled-back or reloaded record needs no special handling.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from servefirst.connectors.salesforce.sandbox.custom_fields import field_from_metadata
from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request, not_found
from servefirst.connectors.salesforce.sandbox.formula import FormulaError, compile_formula
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, FieldType, ObjectDef
from servefirst.connectors.salesforce.sandbox.store import Record, Store

_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
#: (store, FullName, Metadata, the record being replaced or None) -> the record's columns
Builder = Callable[[Store, str, dict[str, Any], Record | None], dict[str, Any]]


def _integrity(message: str) -> SfError:
    return bad_request("FIELD_INTEGRITY_EXCEPTION", message, [])


def _split_full_name(store: Store, full_name: Any, suffix: str) -> tuple[ObjectDef, str]:
    text = str(full_name or "")
    obj_name, _, member = text.partition(".")
    obj = store.data.get(obj_name)
    if not member or obj is None:
        raise _integrity(f"FullName must look like 'Opportunity.Name{suffix}', got {text!r}")
    developer = member[: -len(suffix)] if suffix and member.endswith(suffix) else member
    if (
        (suffix and not member.endswith(suffix))
        or not _NAME.match(developer)
        or len(developer) > 40
    ):
        ending = f", and end with {suffix}" if suffix else ""
        raise _integrity(
            f"The API name {member!r} is invalid: use letters, digits and single underscores, "
            f"start with a letter, at most 40 characters{ending}"
        )
    return obj, developer


def _refuse_duplicate(
    store: Store, table: str, *, key: str, obj: str, name: str, old: Record | None, what: str
) -> None:
    """Refuse ``name`` when another live record of ``table`` on ``obj`` already uses it.

    Salesforce compares developer names case-insensitively and answers every metadata type
    with the same error code; only the noun (``what``) in its message differs.
    """
    own = old["Id"] if old else None
    for rec in store.tables[table].values():
        if rec.get("IsDeleted") or rec["Id"] == own:
            continue
        if rec.get("EntityDefinitionId") == obj and str(rec.get(key)).lower() == name.lower():
            raise bad_request(
                "DUPLICATE_DEVELOPER_NAME", f"There is already a {what} named {name} on {obj}.", []
            )


def _custom_field(
    store: Store, full_name: str, metadata: dict[str, Any], old: Record | None
) -> dict[str, Any]:
    obj, developer = _split_full_name(store, full_name, "__c")
    if not obj.custom_fields_allowed:
        raise _integrity(f"Custom fields cannot be added to {obj.name} in this sandbox")
    if old is not None and (old["TableEnumOrId"], old["DeveloperName"]) != (obj.name, developer):
        raise _integrity("FullName cannot be changed: create a new field instead")
    _refuse_duplicate(
        store,
        "CustomField",
        key="DeveloperName",
        obj=obj.name,
        name=developer,
        old=old,
        what="field",
    )
    definition = field_from_metadata(f"{developer}__c", metadata)
    if old is not None:
        previous = field_from_metadata(f"{developer}__c", old["Metadata"])
        if previous.type is not definition.type:
            raise _integrity(
                f"Changing the type of {obj.name}.{developer}__c from {previous.type} to "
                f"{definition.type} is not supported by this sandbox"
            )
    return {
        "DeveloperName": developer,
        "TableEnumOrId": obj.name,
        "EntityDefinitionId": obj.name,
        "NamespacePrefix": None,
        "Description": metadata.get("description"),
        "InlineHelpText": metadata.get("inlineHelpText"),
        "Length": definition.length or None,
        "FullName": f"{obj.name}.{developer}__c",
        "Metadata": {**metadata, "fullName": None},
    }


def _validation_rule(
    store: Store, full_name: str, metadata: dict[str, Any], old: Record | None
) -> dict[str, Any]:
    obj, name = _split_full_name(store, full_name, "")
    _refuse_duplicate(
        store,
        "ValidationRule",
        key="ValidationName",
        obj=obj.name,
        name=name,
        old=old,
        what="validation rule",
    )
    message = str(metadata.get("errorMessage") or "")
    if not message or len(message) > 255:
        raise _integrity("Error Message: You must enter a value of at most 255 characters")
    try:
        compile_formula(str(metadata.get("errorConditionFormula") or ""), obj)
    except FormulaError as exc:
        raise _integrity(str(exc)) from None
    display = metadata.get("errorDisplayField") or None
    if display is not None:
        field = obj.field(str(display))
        if field is None:
            raise _integrity(f"Error Location: field {display} does not exist on {obj.name}")
        display = field.name
    return {
        "ValidationName": name,
        "EntityDefinitionId": obj.name,
        "Active": bool(metadata.get("active")),
        "Description": metadata.get("description"),
        "ErrorDisplayField": display,
        "ErrorMessage": message,
        "NamespacePrefix": None,
        "FullName": f"{obj.name}.{name}",
        "Metadata": {**metadata, "errorDisplayField": display, "fullName": None},
    }


def _path_steps(obj: ObjectDef, field: FieldDef, steps: Any) -> None:
    values = {v.value for v in field.picklist or ()}
    if not isinstance(steps, list):
        raise _integrity("pathAssistantSteps must be a list")
    for step in steps:
        name = step.get("picklistValueName") if isinstance(step, dict) else None
        if name not in values:
            raise _integrity(
                f"Path step {name!r} is not a value of {obj.name}.{field.name}: use one of "
                + ", ".join(sorted(values))
            )
        for field_name in step.get("fieldNames") or []:
            if obj.field(str(field_name)) is None:
                raise _integrity(f"Path step {name!r}: no field {field_name} on {obj.name}")


def _path_assistant(
    store: Store, full_name: str, metadata: dict[str, Any], old: Record | None
) -> dict[str, Any]:
    """PathAssistant (Sales Path); FullName is the path's own API name, e.g. "ServeFirst_Path"."""
    if not _NAME.match(full_name):
        raise _integrity(f"The API name {full_name!r} is invalid for a path")
    obj = store.data.get(str(metadata.get("entityName") or ""))
    if obj is None:
        raise _integrity(f"entityName: unknown object {metadata.get('entityName')!r}")
    field = obj.field(str(metadata.get("fieldName") or ""))
    if field is None or field.type is not FieldType.PICKLIST:
        raise _integrity(f"fieldName: {metadata.get('fieldName')!r} is no picklist on {obj.name}")
    if not metadata.get("masterLabel"):
        raise _integrity("masterLabel: You must enter a value")
    _path_steps(obj, field, metadata.get("pathAssistantSteps") or [])
    record_type = str(metadata.get("recordTypeName") or "__MASTER__")
    active = bool(metadata.get("active"))
    for rec in store.tables["PathAssistant"].values():
        same = (rec.get("SobjectType"), (rec.get("Metadata") or {}).get("recordTypeName"))
        mine = old is not None and rec["Id"] == old["Id"]
        if rec.get("IsDeleted") or mine:
            continue
        if rec.get("DeveloperName", "").lower() == full_name.lower():
            raise bad_request(
                "DUPLICATE_DEVELOPER_NAME", f"There is already a path named {full_name}.", []
            )
        if active and rec.get("IsActive") and same == (obj.name, record_type):
            raise _integrity(f"There is already an active path for {obj.name} ({record_type})")
    return {
        "DeveloperName": full_name,
        "MasterLabel": str(metadata["masterLabel"]),
        "SobjectType": obj.name,
        "SobjectProcessField": field.name,
        "RecordTypeId": None,
        "IsActive": active,
        "FullName": full_name,
        "Metadata": {**metadata, "recordTypeName": record_type, "fullName": None},
    }


BUILDERS: dict[str, Builder] = {
    "CustomField": _custom_field,
    "ValidationRule": _validation_rule,
    "PathAssistant": _path_assistant,
}


class Tooling:
    """Creates, updates and deletes Tooling metadata records."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, object_name: str, body: dict[str, Any], user_id: str) -> str:
        builder = self._builder(object_name)
        metadata = body.get("Metadata")
        if not isinstance(metadata, dict):
            raise bad_request(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [Metadata]", ["Metadata"]
            )
        columns = builder(self.store, str(body.get("FullName") or ""), metadata, None)
        now = self.store.clock.now()
        record: Record = {
            "Id": self.store.new_id(object_name),
            "IsDeleted": False,
            "CreatedDate": now,
            "CreatedById": user_id,
            "LastModifiedDate": now,
            "LastModifiedById": user_id,
            "SystemModstamp": now,
            **columns,
        }
        self.store.put(object_name, record)
        if object_name == "CustomField":
            self._fill_default(record)
        return str(record["Id"])

    def update(self, object_name: str, record_id: str, body: dict[str, Any], user_id: str) -> None:
        builder = self._builder(object_name)
        old = self.get(object_name, record_id)
        metadata = body.get("Metadata", old["Metadata"])
        if not isinstance(metadata, dict):
            raise _integrity("Metadata must be an object")
        full_name = str(body.get("FullName") or old["FullName"])
        columns = builder(self.store, full_name, metadata, old)
        now = self.store.clock.now()
        self.store.put(
            object_name,
            {
                **old,
                **columns,
                "LastModifiedDate": now,
                "LastModifiedById": user_id,
                "SystemModstamp": now,
            },
        )

    def delete(self, object_name: str, record_id: str, user_id: str) -> None:
        self._builder(object_name)
        old = self.get(object_name, record_id)
        now = self.store.clock.now()
        self.store.put(
            object_name,
            {**old, "IsDeleted": True, "LastModifiedById": user_id, "SystemModstamp": now},
        )
        if object_name == "CustomField":
            name = f"{old['DeveloperName']}__c"
            for rec in list(self.store.tables[old["TableEnumOrId"]].values()):
                if name in rec:
                    self.store.put(
                        old["TableEnumOrId"],
                        {k: v for k, v in rec.items() if k != name},
                        notify=False,
                    )

    def get(self, object_name: str, record_id: str) -> Record:
        full = to18(record_id)
        record = self.store.get(object_name, full) if full else None
        if record is None or record.get("IsDeleted"):
            raise not_found()
        return record

    def _builder(self, object_name: str) -> Builder:
        builder = BUILDERS.get(object_name)
        if builder is None:
            raise not_found(f"The requested resource does not exist: tooling sObject {object_name}")
        return builder

    def _fill_default(self, field_record: Record) -> None:
        """A new checkbox reads as its default on every existing row, as in Salesforce."""
        obj = self.store.data.objects[field_record["TableEnumOrId"]]
        definition = obj.field(f"{field_record['DeveloperName']}__c")
        if definition is None or definition.type is not FieldType.BOOLEAN:
            return
        for rec in list(self.store.tables[obj.name].values()):
            self.store.put(obj.name, {**rec, definition.name: definition.default}, notify=False)
