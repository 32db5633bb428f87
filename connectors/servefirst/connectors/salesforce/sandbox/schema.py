"""The org's metadata: objects, their fields and relationships, as describe reports them.

One ``ObjectDef`` per sObject; names are matched case-insensitively (as Salesforce does) but
always reported in their canonical casing. Child relationships are derived from the reference
fields that name one, so adding a lookup in ``objects.py`` is enough to make subqueries work.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """Describe's ``type`` values the sandbox models."""

    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    PICKLIST = "picklist"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    BOOLEAN = "boolean"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"
    REFERENCE = "reference"
    COMPLEX = "complexvalue"


TEXT_TYPES = frozenset(
    {
        FieldType.ID,
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.PICKLIST,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.REFERENCE,
    }
)
NUMBER_TYPES = frozenset({FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT, FieldType.INT})

_SOAP_TYPES = {
    FieldType.ID: "tns:ID",
    FieldType.REFERENCE: "tns:ID",
    FieldType.BOOLEAN: "xsd:boolean",
    FieldType.DOUBLE: "xsd:double",
    FieldType.CURRENCY: "xsd:double",
    FieldType.PERCENT: "xsd:double",
    FieldType.INT: "xsd:int",
    FieldType.DATE: "xsd:date",
    FieldType.DATETIME: "xsd:dateTime",
    FieldType.COMPLEX: "xsd:anyType",
}


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    default: bool = False
    active: bool = True


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it, plus what the write validator needs."""

    name: str
    type: FieldType
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    #: name of the child relationship this lookup creates on its parent (e.g. "Tasks")
    child_relationship: str | None = None
    cascade_delete: bool = False
    picklist: tuple[PicklistValue, ...] | None = None
    restricted: bool = False
    default: Any = None
    defaulted_on_create: bool = False
    external_id: bool = False
    unique: bool = False
    precision: int = 0
    scale: int = 0
    visible_lines: int = 0
    help_text: str | None = None
    description: str | None = None
    name_field: bool = False
    filterable: bool = True

    @property
    def required(self) -> bool:
        """Must be given on create: not nillable, createable and with no default."""
        return (
            not self.nillable
            and self.createable
            and self.default is None
            and not self.defaulted_on_create
        )

    def with_picklist(self, values: tuple[PicklistValue, ...]) -> FieldDef:
        return replace(self, picklist=values)

    def describe(self) -> dict[str, Any]:
        """The field entry of an sObject describe."""
        picklist = [
            {
                "active": v.active,
                "defaultValue": v.default,
                "label": v.label,
                "validFor": None,
                "value": v.value,
            }
            for v in self.picklist or ()
        ]
        default_value: Any = self.default if self.type is FieldType.BOOLEAN else None
        return {
            "name": self.name,
            "label": self.label,
            "type": str(self.type),
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "digits": 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.custom,
            "calculated": False,
            "defaultedOnCreate": self.defaulted_on_create or self.default is not None,
            "defaultValue": default_value,
            "defaultValueFormula": None,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.type is FieldType.ID or self.external_id,
            "nameField": self.name_field,
            "filterable": self.filterable and self.type not in _UNFILTERABLE,
            "sortable": self.type not in _UNFILTERABLE,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "cascadeDelete": False,
            "picklistValues": picklist,
            "restrictedPicklist": self.restricted,
            "inlineHelpText": self.help_text,
            "htmlFormatted": False,
            "extraTypeInfo": "plaintextarea" if self.type is FieldType.TEXTAREA else None,
        }


_UNFILTERABLE = frozenset({FieldType.TEXTAREA, FieldType.COMPLEX})


@dataclass(frozen=True)
class ChildRelationship:
    child: str
    field: str
    name: str
    cascade_delete: bool


@dataclass
class ObjectDef:
    """One sObject: its fields in describe order, keyed case-insensitively."""

    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: dict[str, FieldDef]
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    custom_fields_allowed: bool = False
    children: list[ChildRelationship] = field(default_factory=list)
    _lower: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._lower = {name.lower(): name for name in self.fields}

    def field(self, name: str) -> FieldDef | None:
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def put_field(self, definition: FieldDef) -> None:
        self.fields[definition.name] = definition
        self._lower[definition.name.lower()] = definition.name

    def remove_field(self, name: str) -> None:
        canonical = self._lower.pop(name.lower(), None)
        if canonical:
            del self.fields[canonical]

    def lookup(self, relationship: str) -> FieldDef | None:
        """The reference field whose relationship name is ``relationship`` (e.g. Owner)."""
        wanted = relationship.lower()
        for definition in self.fields.values():
            if definition.relationship_name and definition.relationship_name.lower() == wanted:
                return definition
        return None

    def child(self, relationship: str) -> ChildRelationship | None:
        wanted = relationship.lower()
        return next((c for c in self.children if c.name.lower() == wanted), None)


class Schema:
    """A set of objects (the data API's, or the Tooling API's) with derived child relationships."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self.objects = {o.name: o for o in objects}
        self._lower = {o.name.lower(): o.name for o in objects}
        self._by_prefix = {o.key_prefix: o.name for o in objects}
        self.link_children()

    def get(self, name: str) -> ObjectDef | None:
        canonical = self._lower.get(name.lower())
        return self.objects[canonical] if canonical else None

    def by_prefix(self, record_id: str) -> ObjectDef | None:
        name = self._by_prefix.get(record_id[:3])
        return self.objects[name] if name else None

    def link_children(self) -> None:
        """Recompute every object's child relationships from the lookups pointing at it."""
        for obj in self.objects.values():
            obj.children = []
        for obj in self.objects.values():
            for definition in obj.fields.values():
                if not definition.child_relationship:
                    continue
                for parent in definition.reference_to:
                    if parent in self.objects:
                        self.objects[parent].children.append(
                            ChildRelationship(
                                obj.name,
                                definition.name,
                                definition.child_relationship,
                                definition.cascade_delete,
                            )
                        )
