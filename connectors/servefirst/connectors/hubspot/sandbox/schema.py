"""Object types and property definitions: the portal's schema.

Object types are a table (name, type id, singular, which stamps they maintain, what a read
returns by default), so adding one is a row, not a code path. Property definitions are mutable
records the properties API edits; the built-in ones mirror what a fresh HubSpot portal has for
the properties servefirst and its tests touch (not all of HubSpot's hundreds).

Two built-in quirks matter to the connector and are modelled on purpose:

- ``closedate`` on deals is a *datetime* property shown with a date picker (``fieldType`` date),
  so it accepts any time of day and reads back as an ISO datetime; only properties of
  ``type`` date are held to midnight UTC.
- tasks and notes accept custom properties but not ``hasUniqueValue`` ones (see
  ``properties_api``), so a task can carry a key but cannot be upserted by it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError
from servefirst.connectors.hubspot.sandbox.wire import iso_ms


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type and the bookkeeping HubSpot does for it."""

    name: str
    type_id: str
    singular: str
    group: str
    created_prop: str
    modified_props: tuple[str, ...]
    default_output: tuple[str, ...]
    #: scope family: tasks and notes are engagements guarded by the contacts scopes.
    scope: str
    #: properties whose values must be unique although their definition says otherwise.
    builtin_unique: tuple[str, ...] = ()
    #: properties a create must carry.
    required: tuple[str, ...] = ()
    #: whether custom properties may set ``hasUniqueValue``.
    unique_allowed: bool = True
    #: values HubSpot fills in on create when the request leaves them out.
    defaults: tuple[tuple[str, str], ...] = ()

    @property
    def always_output(self) -> tuple[str, ...]:
        """What every read returns, whatever ``properties`` asks for."""
        return (self.created_prop, *self.modified_props[:1], "hs_object_id")


OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType(
        "deals",
        "0-3",
        "deal",
        "dealinformation",
        "createdate",
        ("hs_lastmodifieddate",),
        (
            "dealname",
            "amount",
            "closedate",
            "pipeline",
            "dealstage",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
        "crm.objects.deals",
    ),
    ObjectType(
        "contacts",
        "0-1",
        "contact",
        "contactinformation",
        "createdate",
        ("lastmodifieddate", "hs_lastmodifieddate"),
        ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
        "crm.objects.contacts",
        builtin_unique=("email",),
    ),
    ObjectType(
        "companies",
        "0-2",
        "company",
        "companyinformation",
        "createdate",
        ("hs_lastmodifieddate",),
        ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
        "crm.objects.companies",
    ),
    ObjectType(
        "tasks",
        "0-27",
        "task",
        "taskinformation",
        "hs_createdate",
        ("hs_lastmodifieddate",),
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        "crm.objects.contacts",
        required=("hs_timestamp",),
        unique_allowed=False,
        defaults=(("hs_task_status", "NOT_STARTED"), ("hs_task_type", "TODO")),
    ),
    ObjectType(
        "notes",
        "0-46",
        "note",
        "notesinformation",
        "hs_createdate",
        ("hs_lastmodifieddate",),
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        "crm.objects.contacts",
        required=("hs_timestamp",),
        unique_allowed=False,
    ),
)

_BY_ALIAS: dict[str, ObjectType] = {}
for _t in OBJECT_TYPES:
    for _alias in (_t.name, _t.type_id, _t.singular):
        _BY_ALIAS[_alias] = _t


def object_type(alias: str) -> ObjectType:
    """The object type a path names (``deals``, ``deal`` or ``0-3``); 400 otherwise."""
    try:
        return _BY_ALIAS[alias.lower()]
    except KeyError:
        raise ApiError(
            400, "VALIDATION_ERROR", f"Unable to infer object type from: {alias}"
        ) from None


VALID_FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset({"text", "textarea", "phonenumber", "html", "file"}),
    "number": frozenset({"number", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "enumeration": frozenset({"select", "radio", "checkbox", "booleancheckbox"}),
    "bool": frozenset({"booleancheckbox"}),
    "phone_number": frozenset({"phonenumber"}),
}


@dataclass
class PropertyDef:
    """One property definition, as the properties API shows and edits it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    display_order: int = -1
    has_unique_value: bool = False
    hidden: bool = False
    form_field: bool = False
    calculated: bool = False
    read_only: bool = False
    hubspot_defined: bool = False
    created_ms: int = 0
    updated_ms: int = 0
    archived: bool = False

    def option_values(self) -> set[str]:
        return {str(o["value"]) for o in self.options}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "updatedAt": iso_ms(self.updated_ms),
            "createdAt": iso_ms(self.created_ms),
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": self.options,
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.name in DYNAMIC_OPTIONS,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": self.form_field,
            "archived": self.archived,
        }
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        return body


#: Enumerations whose options come from other data (pipelines, stages, owners).
DYNAMIC_OPTIONS = frozenset({"pipeline", "dealstage", "hubspot_owner_id"})

_S, _N, _DT, _E = "string", "number", "datetime", "enumeration"


def _opts(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "displayOrder": i, "hidden": False}
        for i, v in enumerate(values)
    ]


#: One built-in property: (name, label, type, fieldType, extra attributes).
_Row = tuple[str, str, str, str, dict[str, Any]]


def _stamp(name: str, label: str) -> _Row:
    """A timestamp HubSpot maintains (created, modified): read-only, shown as a date."""
    return (name, label, _DT, "date", {"read_only": True})


_CALCULATED: dict[str, Any] = {"read_only": True, "calculated": True}


def _count(name: str, label: str) -> _Row:
    """A number HubSpot calculates (associated records): read-only."""
    return (name, label, _N, "number", _CALCULATED)


def _choice(name: str, label: str, field_type: str, *values: str) -> _Row:
    return (name, label, _E, field_type, {"options": _opts(*values)})


_OWNER: _Row = ("hubspot_owner_id", "Owner", _E, "select", {})
_ID: _Row = ("hs_object_id", "Record ID", _N, "number", {"read_only": True})
_CREATED = _stamp("createdate", "Create Date")
_MODIFIED = _stamp("hs_lastmodifieddate", "Last Modified Date")
#: What every engagement (task, note) ends with: its stamps, owner and id.
_ENGAGEMENT_TAIL = (_stamp("hs_createdate", "Created at"), _MODIFIED, _OWNER, _ID)

#: Built-in properties per object type, in display order.
BUILTIN: dict[str, tuple[_Row, ...]] = {
    "deals": (
        ("dealname", "Deal Name", _S, "text", {}),
        ("amount", "Amount", _N, "number", {}),
        ("closedate", "Close Date", _DT, "date", {}),
        ("pipeline", "Pipeline", _E, "select", {}),
        ("dealstage", "Deal Stage", _E, "radio", {}),
        _choice("dealtype", "Deal Type", "radio", "newbusiness", "existingbusiness"),
        ("description", "Deal Description", _S, "textarea", {}),
        _CREATED,
        _MODIFIED,
        _count("num_associated_contacts", "Number of Associated Contacts"),
        _OWNER,
        _ID,
    ),
    "contacts": (
        ("firstname", "First Name", _S, "text", {}),
        ("lastname", "Last Name", _S, "text", {}),
        ("email", "Email", _S, "text", {}),
        ("jobtitle", "Job Title", _S, "text", {}),
        ("phone", "Phone Number", _S, "phonenumber", {}),
        ("company", "Company Name", _S, "text", {}),
        _count("num_associated_deals", "Number of Associated Deals"),
        _CREATED,
        _stamp("lastmodifieddate", "Last Modified Date"),
        _stamp("hs_lastmodifieddate", "Object last modified date/time"),
        _OWNER,
        _ID,
    ),
    "companies": (
        ("name", "Company name", _S, "text", {}),
        ("domain", "Company Domain Name", _S, "text", {}),
        ("industry", "Industry", _S, "text", {}),
        _CREATED,
        _MODIFIED,
        _OWNER,
        _ID,
    ),
    "tasks": (
        ("hs_timestamp", "Due date", _DT, "date", {}),
        ("hs_task_subject", "Task Title", _S, "text", {}),
        ("hs_task_body", "Notes", _S, "textarea", {}),
        _choice(
            "hs_task_status",
            "Task Status",
            "select",
            *("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        _choice("hs_task_priority", "Priority", "select", "NONE", "LOW", "MEDIUM", "HIGH"),
        _choice("hs_task_type", "Task Type", "select", "EMAIL", "CALL", "TODO", "LINKED_IN"),
        ("hs_task_completion_date", "Completed at", _DT, "date", _CALCULATED),
        *_ENGAGEMENT_TAIL,
    ),
    "notes": (
        ("hs_timestamp", "Activity date", _DT, "date", {}),
        ("hs_note_body", "Note body", _S, "textarea", {}),
        *_ENGAGEMENT_TAIL,
    ),
}


def builtin_properties(object_name: str, group: str, now_ms: int) -> dict[str, PropertyDef]:
    """Fresh copies of an object type's built-in property definitions."""
    result: dict[str, PropertyDef] = {}
    for order, (name, label, type_, field_type, extra) in enumerate(BUILTIN[object_name]):
        result[name] = PropertyDef(
            name=name,
            label=label,
            type=type_,
            field_type=field_type,
            group_name=group,
            options=[dict(o) for o in extra.get("options", [])],
            display_order=order,
            read_only=bool(extra.get("read_only", False)),
            calculated=bool(extra.get("calculated", False)),
            hubspot_defined=True,
            form_field=not extra.get("read_only", False),
            created_ms=now_ms,
            updated_ms=now_ms,
        )
    return result
