"""Record writes with Salesforce's validation, in Salesforce's order and words.

Create and update check, in turn: unknown or hidden fields (INVALID_FIELD), read-only fields
(INVALID_FIELD_FOR_INSERT_UPDATE), wire formats (JSON_PARSER_ERROR, MALFORMED_ID), restricted
picklists, text lengths, lookups, required fields, validation rules and unique values. Nothing
is stored unless every check passes, so one bad record never leaves a half-written row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from servefirst.connectors.salesforce.sandbox.checks import AFTER_SAVE, CHECKS
from servefirst.connectors.salesforce.sandbox.derive import DERIVERS
from servefirst.connectors.salesforce.sandbox.errors import (
    MultipleMatchesError,
    SfError,
    bad_request,
    not_found,
)
from servefirst.connectors.salesforce.sandbox.formula import Context
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, FieldType, ObjectDef
from servefirst.connectors.salesforce.sandbox.security import FieldSecurity, ValidationRules
from servefirst.connectors.salesforce.sandbox.store import Record, Store
from servefirst.connectors.salesforce.sandbox.values import parse_input

_TEXT_LIMITED = frozenset(
    {FieldType.STRING, FieldType.TEXTAREA, FieldType.PICKLIST, FieldType.EMAIL, FieldType.PHONE}
)


class Writer:
    """Creates, updates, upserts and deletes records on behalf of the API user."""

    def __init__(self, store: Store, security: FieldSecurity, rules: ValidationRules) -> None:
        self.store = store
        self.security = security
        self.rules = rules

    def create(
        self, obj: ObjectDef, body: dict[str, Any], user_id: str, *, rules: bool = True
    ) -> str:
        """Insert a record; ``rules=False`` skips validation rules (data that predates them)."""
        if not obj.createable:
            raise bad_request(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.name}"
            )
        given = self._parse(obj, body, creating=True)
        now = self.store.clock.now()
        record: Record = {
            name: d.default for name, d in obj.fields.items() if d.default is not None
        }
        record.update(given)
        record.update(
            Id=self.store.new_id(obj.name),
            IsDeleted=False,
            CreatedDate=now,
            CreatedById=user_id,
            LastModifiedDate=now,
            LastModifiedById=user_id,
            SystemModstamp=now,
        )
        if "OwnerId" in obj.fields and not record.get("OwnerId"):
            record["OwnerId"] = user_id
        self._finish(obj, record, None, given, rules=rules)
        return str(record["Id"])

    def update(
        self,
        obj: ObjectDef,
        record_id: str,
        body: dict[str, Any],
        user_id: str,
        unmodified_since: datetime | None = None,
    ) -> None:
        if not obj.updateable:
            raise bad_request(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.name}"
            )
        old = self.live(obj, record_id)
        if unmodified_since is not None:
            modified = old["LastModifiedDate"].replace(microsecond=0)
            if modified > unmodified_since:
                raise SfError(
                    412,
                    "PRECONDITION_FAILED",
                    "The requested entity has been modified since the time specified in "
                    "If-Unmodified-Since",
                )
        given = self._parse(obj, {k: v for k, v in body.items() if k.lower() != "id"}, False)
        record = {**old, **given}
        now = self.store.clock.now()
        record.update(LastModifiedDate=now, LastModifiedById=user_id, SystemModstamp=now)
        self._finish(obj, record, old, given)

    def upsert(
        self, obj: ObjectDef, field_name: str, value: str, body: dict[str, Any], user_id: str
    ) -> tuple[str, bool]:
        """Update the record whose external id is ``value``, or create it: (id, created)."""
        definition = obj.field(field_name)
        if (
            definition is None
            or not self.security.readable(obj, definition)
            or not (definition.external_id or definition.type is FieldType.ID)
        ):
            raise not_found(
                f"Provided external ID field does not exist or is not accessible: {field_name}"
            )
        if definition.type is FieldType.ID:
            self.update(obj, value, body, user_id)
            return to18(value) or value, False
        matches = self.store.find_by_key(obj.name, definition.name, value)
        if len(matches) > 1:
            raise MultipleMatchesError(obj.name, matches)
        if matches:
            self.update(obj, matches[0], body, user_id)
            return matches[0], False
        return self.create(obj, {**body, definition.name: value}, user_id), True

    def delete(self, obj: ObjectDef, record_id: str, user_id: str) -> None:
        if not obj.deletable:
            raise bad_request(
                "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.name}"
            )
        record = self.live(obj, record_id)
        now = self.store.clock.now()
        self.store.put(
            obj.name,
            {
                **record,
                "IsDeleted": True,
                "LastModifiedDate": now,
                "LastModifiedById": user_id,
                "SystemModstamp": now,
            },
        )
        for child in obj.children:
            if not child.cascade_delete:
                continue
            child_obj = self.store.object(child.child)
            for child_id in self.store.children(child.child, child.field, record["Id"]):
                if not self.store.tables[child.child][child_id].get("IsDeleted"):
                    self.delete(child_obj, child_id, user_id)

    def live(self, obj: ObjectDef, record_id: str) -> Record:
        """The record, or 404 NOT_FOUND / ENTITY_IS_DELETED as Salesforce answers."""
        full = to18(record_id)
        record = self.store.get(obj.name, full) if full else None
        if record is None:
            raise not_found()
        if record.get("IsDeleted"):
            raise SfError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def _parse(self, obj: ObjectDef, body: dict[str, Any], creating: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        locked: list[str] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            definition = obj.field(key)
            if definition is None or not self.security.readable(obj, definition):
                raise bad_request(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            allowed = definition.createable if creating else definition.updateable
            if not allowed or not self.security.editable(obj, definition):
                locked.append(definition.name)
                continue
            values[definition.name] = parse_input(definition, raw)
        if locked:
            if creating and locked == ["Id"]:
                raise bad_request(
                    "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                )
            raise bad_request(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        for name, value in values.items():
            self._check_value(obj.fields[name], value)
        return values

    def _check_value(self, definition: FieldDef, value: Any) -> None:
        if value is None:
            return
        if definition.type is FieldType.PICKLIST and definition.restricted:
            allowed = {v.value for v in definition.picklist or () if v.active}
            if value not in allowed:
                raise bad_request(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{definition.label}: bad value for restricted picklist field: {value}",
                    [definition.name],
                )
        if (
            definition.type in _TEXT_LIMITED
            and definition.length
            and len(value) > definition.length
        ):
            raise bad_request(
                "STRING_TOO_LONG",
                f"{definition.label}: data value too large: {value[:80]} "
                f"(max length={definition.length})",
                [definition.name],
            )
        if definition.type is FieldType.REFERENCE:
            self._check_reference(definition, value)

    def _check_reference(self, definition: FieldDef, value: str) -> None:
        target = self.store.data.by_prefix(value)
        if target is None or target.name not in definition.reference_to:
            raise bad_request(
                "FIELD_INTEGRITY_EXCEPTION",
                f"{definition.label}: id value of incorrect type: {value}",
                [definition.name],
            )
        record = self.store.get(target.name, value)
        if record is None:
            raise bad_request(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [definition.name]
            )
        if record.get("IsDeleted"):
            raise bad_request("ENTITY_IS_DELETED", "entity is deleted", [definition.name])

    def _finish(
        self,
        obj: ObjectDef,
        record: Record,
        old: Record | None,
        given: dict[str, Any],
        *,
        rules: bool = True,
    ) -> None:
        derive = DERIVERS.get(obj.name)
        if derive is not None:
            derive(self.store, record, old, given)
        missing = [
            d.name
            for d in obj.fields.values()
            if not d.nillable
            and (d.createable or d.updateable)
            and record.get(d.name) in (None, "")
        ]
        if missing:
            raise bad_request(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        check = CHECKS.get(obj.name)
        if check is not None:
            check(self.store, record)
        if rules:
            self._run_rules(obj, record, old)
        self._check_unique(obj, record)
        self.store.put(obj.name, record)
        follow_up = AFTER_SAVE.get(obj.name)
        if follow_up is not None:
            follow_up(self.store, record)

    def _run_rules(self, obj: ObjectDef, record: Record, old: Record | None) -> None:
        context = Context(record, old, self.store.clock.today())
        for rule in self.rules.by_object.get(obj.name, ()):
            if rule.condition(context):
                fields = [rule.display_field] if rule.display_field else []
                raise bad_request("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, fields)

    def _check_unique(self, obj: ObjectDef, record: Record) -> None:
        for definition in _unique_fields(obj.fields.values()):
            value = record.get(definition.name)
            if value in (None, ""):
                continue
            for other in self.store.find_by_key(obj.name, definition.name, str(value)):
                if other != record["Id"]:
                    raise bad_request(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {definition.name} duplicates value on record "
                        f"with id: {other}",
                        [definition.name],
                    )


def _unique_fields(fields: Iterable[FieldDef]) -> list[FieldDef]:
    return [d for d in fields if d.unique]
