"""Custom fields as the Tooling API creates them: Metadata in, a describe-able FieldDef out.

The data schema's custom fields are always rebuilt from the live ``CustomField`` records, so
creating, updating, deleting, rolling back and loading from disk all go through one path.
Validation messages follow Setup's wording; the error code for invalid metadata is
FIELD_INTEGRITY_EXCEPTION (what the Tooling API answers for most metadata problems).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request
from servefirst.connectors.salesforce.sandbox.schema import FieldDef, FieldType, PicklistValue
from servefirst.connectors.salesforce.sandbox.store import Store


def _integrity(message: str) -> SfError:
    return bad_request("FIELD_INTEGRITY_EXCEPTION", message, [])


def _int(metadata: dict[str, Any], key: str, low: int, high: int, what: str) -> int:
    value = metadata.get(key)
    if value is None or isinstance(value, bool):
        raise _integrity(f"{what}: You must enter a value")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _integrity(f"{what}: invalid number {value!r}") from None
    if not low <= number <= high:
        raise _integrity(f"{what}: must be between {low} and {high}")
    return number


def _text(metadata: dict[str, Any]) -> dict[str, Any]:
    return {"type": FieldType.STRING, "length": _int(metadata, "length", 1, 255, "Length")}


def _long_text(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": FieldType.TEXTAREA,
        "length": _int(metadata, "length", 256, 131072, "Length"),
        "visible_lines": _int(metadata, "visibleLines", 2, 50, "# Visible Lines"),
        "filterable": False,
    }


def _number(kind: FieldType) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def build(metadata: dict[str, Any]) -> dict[str, Any]:
        precision = _int(metadata, "precision", 1, 18, "Length")
        scale = _int(metadata, "scale", 0, precision, "Decimal Places")
        return {"type": kind, "precision": precision, "scale": scale}

    return build


def _checkbox(metadata: dict[str, Any]) -> dict[str, Any]:
    default = metadata.get("defaultValue")
    if default is None:
        raise _integrity("Default Value: You must enter a value")
    flag = default if isinstance(default, bool) else str(default).lower() == "true"
    return {"type": FieldType.BOOLEAN, "default": flag, "nillable": False}


def _picklist(metadata: dict[str, Any]) -> dict[str, Any]:
    value_set = metadata.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {}
    raw_values = definition.get("value") or []
    if not raw_values:
        raise _integrity("Values: You must enter at least one value")
    values = []
    for raw in raw_values:
        name = str(raw.get("fullName") or "")
        if not name:
            raise _integrity("Values: every value needs a fullName")
        values.append(PicklistValue(name, str(raw.get("label") or name), bool(raw.get("default"))))
    if len({v.value.lower() for v in values}) != len(values):
        raise _integrity("Values: duplicate picklist value")
    return {
        "type": FieldType.PICKLIST,
        "length": 255,
        "picklist": tuple(values),
        "restricted": bool(value_set.get("restricted")),
    }


_BUILDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Text": _text,
    "LongTextArea": _long_text,
    "TextArea": lambda _m: {"type": FieldType.TEXTAREA, "length": 255},
    "Checkbox": _checkbox,
    "Number": _number(FieldType.DOUBLE),
    "Currency": _number(FieldType.CURRENCY),
    "Percent": _number(FieldType.PERCENT),
    "Date": lambda _m: {"type": FieldType.DATE},
    "DateTime": lambda _m: {"type": FieldType.DATETIME},
    "Picklist": _picklist,
    "Email": lambda _m: {"type": FieldType.EMAIL, "length": 80},
    "Phone": lambda _m: {"type": FieldType.PHONE, "length": 40},
    "Url": lambda _m: {"type": FieldType.URL, "length": 255},
}
SUPPORTED_TYPES = tuple(_BUILDERS)


def field_from_metadata(api_name: str, metadata: dict[str, Any]) -> FieldDef:
    """The field a ``CustomField`` Metadata describes; raises SfError if it is invalid."""
    kind = metadata.get("type")
    builder = _BUILDERS.get(str(kind))
    if builder is None:
        raise _integrity(
            f"Field type {kind!r} is not supported by this sandbox: use one of "
            + ", ".join(SUPPORTED_TYPES)
        )
    label = metadata.get("label")
    if not label:
        raise _integrity("Field Label: You must enter a value")
    options = builder(metadata)
    external = bool(metadata.get("externalId"))
    unique = bool(metadata.get("unique"))
    if (external or unique) and options["type"] not in (
        FieldType.STRING,
        FieldType.DOUBLE,
        FieldType.EMAIL,
    ):
        raise _integrity("External ID and Unique are only available on Text, Number and Email")
    if metadata.get("required") and options["type"] is not FieldType.BOOLEAN:
        options["nillable"] = False
    return FieldDef(
        name=api_name,
        label=str(label),
        custom=True,
        external_id=external,
        unique=unique,
        help_text=metadata.get("inlineHelpText"),
        description=metadata.get("description"),
        **options,
    )


def sync_custom_fields(store: Store) -> None:
    """Make the data schema's custom fields match the live CustomField records."""
    wanted: dict[str, dict[str, FieldDef]] = {}
    for rec in store.tables["CustomField"].values():
        if rec.get("IsDeleted"):
            continue
        obj_name = str(rec["TableEnumOrId"])
        api_name = f"{rec['DeveloperName']}__c"
        wanted.setdefault(obj_name, {})[api_name] = field_from_metadata(api_name, rec["Metadata"])
    for obj in store.data.objects.values():
        for name in [n for n, d in obj.fields.items() if d.custom]:
            obj.remove_field(name)
        for definition in wanted.get(obj.name, {}).values():
            obj.put_field(definition)
    store.reindex()
