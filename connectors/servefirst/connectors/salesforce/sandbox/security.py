"""Field-level security and validation rules, recomputed whenever their records change.

Salesforce hides a new custom field from every user until a permission set or profile grants
it, and that is the first thing that bites a fresh integration (simple-salesforce issues #621
and #681): describe omits the field and SOQL answers INVALID_FIELD. The sandbox models one
API user, the integration user; custom fields are visible to it exactly when a live
``FieldPermissions`` row of a permission set assigned to it grants ``PermissionsRead``, and
writable when it grants ``PermissionsEdit``. Standard fields are always visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from servefirst.connectors.salesforce.sandbox.formula import (
    Evaluator,
    FormulaError,
    compile_formula,
)
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, ObjectDef
from servefirst.connectors.salesforce.sandbox.store import Store


class FieldSecurity:
    """Which custom fields the integration user may read and edit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.user_id = ""
        self._grants: dict[str, tuple[bool, bool]] = {}
        for name in ("FieldPermissions", "PermissionSetAssignment"):
            store.listen(name, self.recompute)

    def recompute(self) -> None:
        assigned = {
            rec["PermissionSetId"]
            for rec in self.store.tables["PermissionSetAssignment"].values()
            if rec.get("AssigneeId") == self.user_id and not rec.get("IsDeleted")
        }
        grants: dict[str, tuple[bool, bool]] = {}
        for rec in self.store.tables["FieldPermissions"].values():
            if rec.get("IsDeleted") or rec.get("ParentId") not in assigned:
                continue
            key = str(rec.get("Field") or "").lower()
            read, edit = grants.get(key, (False, False))
            grants[key] = (
                read or bool(rec.get("PermissionsRead")),
                edit or bool(rec.get("PermissionsEdit")),
            )
        self._grants = grants

    def readable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        if not definition.custom:
            return True
        return self._grants.get(f"{obj.name}.{definition.name}".lower(), (False, False))[0]

    def editable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        if not definition.custom:
            return True
        return self._grants.get(f"{obj.name}.{definition.name}".lower(), (False, False))[1]


@dataclass(frozen=True)
class CompiledRule:
    name: str
    message: str
    display_field: str | None
    condition: Evaluator


@dataclass
class ValidationRules:
    """Active validation rules per object, compiled once when their records change."""

    store: Store
    by_object: dict[str, list[CompiledRule]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store.listen("ValidationRule", self.recompute)
        self.store.listen("CustomField", self.recompute)

    def recompute(self) -> None:
        rules: dict[str, list[CompiledRule]] = {}
        for rec in self.store.tables["ValidationRule"].values():
            metadata = rec.get("Metadata") or {}
            obj = self.store.data.get(str(rec.get("EntityDefinitionId")))
            if rec.get("IsDeleted") or not metadata.get("active") or obj is None:
                continue
            try:
                condition = compile_formula(str(metadata.get("errorConditionFormula")), obj)
            except FormulaError:
                continue  # a field it used was deleted: Salesforce would block that delete
            rules.setdefault(obj.name, []).append(
                CompiledRule(
                    str(rec["ValidationName"]),
                    str(metadata.get("errorMessage") or ""),
                    metadata.get("errorDisplayField") or None,
                    condition,
                )
            )
        self.by_object = rules
