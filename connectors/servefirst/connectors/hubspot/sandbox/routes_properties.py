"""Properties and property groups v3: create (201, 409 on a duplicate), read, update, archive.

Validation follows HubSpot's rules: lowercase internal names, a known ``type`` with a
``fieldType`` valid for it, options for enumerations (unique values), an existing group, and
``hasUniqueValue`` only on string or number properties of object types that support unique
values. Tasks and notes accept custom properties but not unique ones (see the finding in
``servefirst.connectors.hubspot.sandbox``), so a task key cannot be an upsert key.
"""

from __future__ import annotations

import re
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError, conflict, validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, schema_scopes
from servefirst.connectors.hubspot.sandbox.routes_batch import batch_reply
from servefirst.connectors.hubspot.sandbox.schema import (
    DYNAMIC_OPTIONS,
    VALID_FIELD_TYPES,
    ObjectType,
    PropertyDef,
)
from servefirst.connectors.hubspot.sandbox.store import Group, Portal, Table
from servefirst.connectors.hubspot.sandbox.wire import now_ms

BASE = "/crm/v3/properties/{object_type}"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_UNIQUE = 10


def _options(raw: Any, type_: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation("`options` must be a list of {label, value, displayOrder, hidden}")
    options, seen = [], set()
    for order, item in enumerate(raw):
        if not isinstance(item, dict) or "label" not in item or "value" not in item:
            raise validation("each option needs a `label` and a `value`")
        value = str(item["value"])
        if value in seen:
            raise validation(f"option value {value!r} appears twice")
        seen.add(value)
        option: dict[str, Any] = {
            "label": str(item["label"]),
            "value": value,
            "displayOrder": int(item.get("displayOrder", order)),
            "hidden": bool(item.get("hidden", False)),
        }
        if item.get("description"):
            option["description"] = str(item["description"])
        options.append(option)
    if options and type_ not in {"enumeration", "bool"}:
        raise validation(f"options are only valid for enumeration properties, not {type_}")
    return options


def _check_types(type_: Any, field_type: Any) -> None:
    if type_ not in VALID_FIELD_TYPES:
        raise validation(
            f"{type_!r} is not a valid property type; use one of {sorted(VALID_FIELD_TYPES)}"
        )
    if field_type not in VALID_FIELD_TYPES[type_]:
        raise validation(
            f"fieldType {field_type!r} is not valid for type {type_!r}; "
            f"use one of {sorted(VALID_FIELD_TYPES[type_])}"
        )


def new_property(table: Table, payload: dict[str, Any], now: int) -> PropertyDef:
    """Validates a create request and builds the definition (not yet stored)."""
    t: ObjectType = table.type
    name, label = payload.get("name"), payload.get("label")
    if not isinstance(name, str) or not _NAME.match(name):
        raise validation(f"{name!r} is not a valid property name: lowercase letters, digits, _")
    if not isinstance(label, str) or not label.strip():
        raise validation(f"property {name} needs a `label`")
    type_, field_type = payload.get("type"), payload.get("fieldType")
    _check_types(type_, field_type)
    group = str(payload.get("groupName") or "")
    if group not in table.groups or table.groups[group].archived:
        raise validation(f"property group {group!r} does not exist on {t.name}")
    existing = table.properties.get(name)
    if existing is not None and not existing.archived:
        raise conflict(f"Property named '{name}' already exists.")
    unique = bool(payload.get("hasUniqueValue", False))
    if unique:
        if not t.unique_allowed:
            raise validation(
                f"{t.name} do not support unique value properties (hasUniqueValue); "
                "only contacts, companies, deals, tickets and custom objects do"
            )
        if type_ not in ("string", "number"):
            raise validation("only string and number properties can require unique values")
        if sum(p.has_unique_value for p in table.properties.values()) >= MAX_UNIQUE:
            raise validation(f"{t.name} already have {MAX_UNIQUE} unique value properties")
    options = _options(payload.get("options"), str(type_))
    if type_ == "enumeration" and not options and not payload.get("externalOptions"):
        raise validation(f"enumeration property {name} needs `options` (at least one)")
    return PropertyDef(
        name=name,
        label=label,
        type=str(type_),
        field_type=str(field_type),
        group_name=group,
        description=str(payload.get("description") or ""),
        options=options,
        display_order=int(payload.get("displayOrder", -1)),
        has_unique_value=unique,
        hidden=bool(payload.get("hidden", False)),
        form_field=bool(payload.get("formField", False)),
        created_ms=now,
        updated_ms=now,
    )


def _store(portal: Portal, table: Table, prop: PropertyDef) -> None:
    table.properties[prop.name] = prop
    portal.version += 1


def shown(portal: Portal, table: Table, prop: PropertyDef) -> dict[str, Any]:
    """A definition as the API shows it; pipeline, stage and owner options are computed."""
    body = prop.to_json()
    if prop.name in DYNAMIC_OPTIONS:
        body["options"] = dynamic_options(portal, table, prop.name)
    return body


def dynamic_options(portal: Portal, table: Table, name: str) -> list[dict[str, Any]]:
    if name == "hubspot_owner_id":
        owners = sorted(portal.owners.values(), key=lambda o: int(o["id"]))
        pairs = [(f"{o['firstName']} {o['lastName']}", o["id"]) for o in owners]
    elif table.type.name != "deals":
        pairs = []
    elif name == "pipeline":
        pairs = [(p.label, p.id) for p in portal.pipelines.live()]
    else:
        pairs = [
            (f"{s.label} ({p.label})", s.id)
            for p in portal.pipelines.live()
            for s in p.live_stages()
        ]
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (label, value) in enumerate(pairs)
    ]


def _table(req: Req) -> Table:
    return req.portal.tables[req.object_type().name]


def _prop(table: Table, name: str) -> PropertyDef:
    prop = table.properties.get(name)
    if prop is None or prop.archived:
        raise ApiError(
            404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {table.type.name}."
        )
    return prop


def get_all(req: Req) -> Reply:
    table = _table(req)
    archived = req.q_bool("archived")
    return 200, {
        "results": [
            shown(req.portal, table, p) for p in table.properties.values() if p.archived == archived
        ]
    }


def create(req: Req) -> Reply:
    table = _table(req)
    prop = new_property(table, req.json_obj(), now_ms())
    _store(req.portal, table, prop)
    return 201, shown(req.portal, table, prop)


def get_by_name(req: Req) -> Reply:
    table = _table(req)
    return 200, shown(req.portal, table, _prop(table, req.path["name"]))


def update(req: Req) -> Reply:
    table = _table(req)
    prop = _prop(table, req.path["name"])
    payload = req.json_obj()
    if prop.hubspot_defined and set(payload) - {"label", "description", "displayOrder", "hidden"}:
        raise validation(f"{prop.name} is a HubSpot-defined property: its definition is read-only")
    if "hasUniqueValue" in payload and bool(payload["hasUniqueValue"]) != prop.has_unique_value:
        raise validation(f"hasUniqueValue of {prop.name} cannot be changed once set")
    type_ = payload.get("type", prop.type)
    field_type = payload.get("fieldType", prop.field_type)
    _check_types(type_, field_type)
    if "groupName" in payload and payload["groupName"] not in table.groups:
        raise validation(f"property group {payload['groupName']!r} does not exist")
    prop.type, prop.field_type = str(type_), str(field_type)
    if "options" in payload:
        prop.options = _options(payload["options"], prop.type)
    for key, attr in (
        ("label", "label"),
        ("description", "description"),
        ("groupName", "group_name"),
        ("displayOrder", "display_order"),
        ("hidden", "hidden"),
        ("formField", "form_field"),
    ):
        if key in payload:
            setattr(prop, attr, type(getattr(prop, attr))(payload[key]))
    prop.updated_ms = now_ms()
    req.portal.version += 1
    return 200, shown(req.portal, table, prop)


def archive(req: Req) -> Reply:
    table = _table(req)
    prop = _prop(table, req.path["name"])
    if prop.hubspot_defined:
        raise validation(f"{prop.name} is a HubSpot-defined property and cannot be archived")
    prop.archived = True
    req.portal.version += 1
    return 204, None


def batch_create(req: Req) -> Reply:
    started, table = now_ms(), _table(req)
    props = [new_property(table, item, started) for item in req.inputs(100)]
    names = [p.name for p in props]
    if len(set(names)) != len(names):
        raise conflict("The batch creates the same property twice.")
    for prop in props:
        _store(req.portal, table, prop)
    return batch_reply(started, [shown(req.portal, table, p) for p in props], [], 201)


def batch_read(req: Req) -> Reply:
    started, table = now_ms(), _table(req)
    results, missing = [], []
    for item in req.inputs(100):
        name = str(item.get("name")) if isinstance(item, dict) else ""
        prop = table.properties.get(name)
        if prop is None or prop.archived:
            missing.append(name)
        else:
            results.append(shown(req.portal, table, prop))
    errors = (
        [
            ApiError(
                404,
                "OBJECT_NOT_FOUND",
                "Some properties were not found.",
                context={"names": missing},
            )
        ]
        if missing
        else []
    )
    return batch_reply(started, results, errors, 200)


def batch_archive(req: Req) -> Reply:
    table = _table(req)
    for item in req.inputs(100):
        prop = table.properties.get(str(item.get("name")) if isinstance(item, dict) else "")
        if prop is not None and not prop.hubspot_defined:
            prop.archived = True
    req.portal.version += 1
    return 204, None


def groups_all(req: Req) -> Reply:
    return 200, {"results": [g.to_json() for g in _table(req).groups.values() if not g.archived]}


def group_create(req: Req) -> Reply:
    table, payload = _table(req), req.json_obj()
    name, label = payload.get("name"), payload.get("label")
    if not isinstance(name, str) or not _NAME.match(name):
        raise validation(f"{name!r} is not a valid group name: lowercase letters, digits, _")
    if not isinstance(label, str) or not label.strip():
        raise validation(f"group {name} needs a `label`")
    existing = table.groups.get(name)
    if existing is not None and not existing.archived:
        raise conflict(f"A property group named '{name}' already exists.")
    group = Group(name, label, int(payload.get("displayOrder", -1)))
    table.groups[name] = group
    return 201, group.to_json()


def _group(table: Table, name: str) -> Group:
    group = table.groups.get(name)
    if group is None or group.archived:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name}.")
    return group


def group_get(req: Req) -> Reply:
    return 200, _group(_table(req), req.path["name"]).to_json()


def group_update(req: Req) -> Reply:
    group, payload = _group(_table(req), req.path["name"]), req.json_obj()
    if "label" in payload:
        group.label = str(payload["label"])
    if "displayOrder" in payload:
        group.display_order = int(payload["displayOrder"])
    return 200, group.to_json()


def group_archive(req: Req) -> Reply:
    _group(_table(req), req.path["name"]).archived = True
    return 204, None


READ, WRITE = schema_scopes("read"), schema_scopes("write")
ROUTES = [
    Endpoint(BASE + "/groups", "GET", groups_all, READ),
    Endpoint(BASE + "/groups", "POST", group_create, WRITE),
    Endpoint(BASE + "/groups/{name}", "GET", group_get, READ),
    Endpoint(BASE + "/groups/{name}", "PATCH", group_update, WRITE),
    Endpoint(BASE + "/groups/{name}", "DELETE", group_archive, WRITE),
    Endpoint(BASE + "/batch/create", "POST", batch_create, WRITE),
    Endpoint(BASE + "/batch/read", "POST", batch_read, READ),
    Endpoint(BASE + "/batch/archive", "POST", batch_archive, WRITE),
    Endpoint(BASE, "GET", get_all, READ),
    Endpoint(BASE, "POST", create, WRITE),
    Endpoint(BASE + "/{name}", "GET", get_by_name, READ),
    Endpoint(BASE + "/{name}", "PATCH", update, WRITE),
    Endpoint(BASE + "/{name}", "DELETE", archive, WRITE),
]
