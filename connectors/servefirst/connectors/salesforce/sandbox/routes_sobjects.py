"""``sobjects``: global and per-object describe, single-record CRUD and upsert by external id."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.errors import (
    MultipleMatchesError,
    bad_request,
    not_found,
)
from servefirst.connectors.salesforce.sandbox.http import (
    AfterWrite,
    Call,
    api_route,
    require_object,
)
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.schema import ObjectDef
from servefirst.connectors.salesforce.sandbox.store import Record
from servefirst.connectors.salesforce.sandbox.values import to_json


def object_of(call: Call, name: str) -> ObjectDef:
    obj = call.org.store.data.get(name)
    if obj is None:
        raise not_found(
            f"The requested resource does not exist: sObject type '{name}' is not supported"
        )
    return obj


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def _summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "keyPrefix": obj.key_prefix,
        "custom": False,
        "queryable": True,
        "retrieveable": True,
        "searchable": obj.createable,
        "createable": obj.createable,
        "updateable": obj.updateable,
        "deletable": obj.deletable,
        "undeletable": obj.deletable,
        "layoutable": obj.createable,
        "urls": _urls(obj, version),
    }


def describe(call: Call, obj: ObjectDef) -> dict[str, Any]:
    security = call.org.security
    fields = []
    for definition in obj.fields.values():
        if not security.readable(obj, definition):
            continue
        entry = definition.describe()
        if not security.editable(obj, definition):
            entry["createable"] = entry["updateable"] = False
        fields.append(entry)
    return {
        **_summary(obj, call.version),
        "fields": fields,
        "childRelationships": [
            {
                "childSObject": c.child,
                "field": c.field,
                "relationshipName": c.name,
                "cascadeDelete": c.cascade_delete,
                "restrictedDelete": False,
                "deprecatedAndHidden": False,
            }
            for c in obj.children
        ],
        "recordTypeInfos": [],
    }


def render_record(
    call: Call, obj: ObjectDef, record: Record, only: list[str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {
            "type": obj.name,
            "url": f"/services/data/v{call.version}/sobjects/{obj.name}/{record['Id']}",
        }
    }
    readable = call.org.security.readable
    if only is None:
        names = [n for n, d in obj.fields.items() if readable(obj, d)]
    else:
        names = []
        for wanted in only:
            definition = obj.field(wanted.strip())
            if definition is None or not readable(obj, definition):
                raise bad_request(
                    "INVALID_FIELD", f"No such column '{wanted.strip()}' on entity '{obj.name}'"
                )
            names.append(definition.name)
    for name in names:
        out[name] = to_json(record.get(name))
    return out


def _global(call: Call) -> tuple[int, Any]:
    objects = call.org.store.data.objects.values()
    return 200, {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_summary(o, call.version) for o in objects],
    }


def _basic(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    if call.request.method == "GET":
        return 200, {"objectDescribe": _summary(obj, call.version), "recentItems": []}
    record_id = call.org.writer.create(obj, require_object(call.body), call.user_id)
    return 201, {"id": record_id, "success": True, "errors": []}


def _describe(call: Call) -> tuple[int, Any]:
    return 200, describe(call, object_of(call, call.params["sobject"]))


def _unmodified_since(call: Call) -> datetime | None:
    header = call.header("if-unmodified-since")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(UTC)
    except (TypeError, ValueError):
        raise bad_request(
            "INVALID_HEADER", f"Invalid If-Unmodified-Since header: {header}"
        ) from None


def _record(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    record_id = call.params["record_id"]
    writer = call.org.writer
    method = call.request.method
    if method == "GET":
        fields = call.query.get("fields")
        record = writer.live(obj, record_id)
        return 200, render_record(call, obj, record, fields.split(",") if fields else None)
    if method == "PATCH":
        body = require_object(call.body)
        writer.update(obj, record_id, body, call.user_id, _unmodified_since(call))
        return 204, None
    writer.delete(obj, record_id, call.user_id)
    return 204, None


def _by_external_id(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    field_name, value = call.params["field"], call.params["value"]
    writer = call.org.writer
    if call.request.method == "PATCH":
        record_id, created = writer.upsert(
            obj, field_name, value, require_object(call.body), call.user_id
        )
        return (201 if created else 200), {
            "id": record_id,
            "success": True,
            "errors": [],
            "created": created,
        }
    definition = obj.field(field_name)
    if (
        definition is None
        or not definition.external_id
        or not call.org.security.readable(obj, definition)
    ):
        raise not_found(
            f"Provided external ID field does not exist or is not accessible: {field_name}"
        )
    matches = call.org.store.find_by_key(obj.name, definition.name, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise MultipleMatchesError(obj.name, matches)
    if call.request.method == "DELETE":
        writer.delete(obj, matches[0], call.user_id)
        return 204, None
    return 200, render_record(call, obj, writer.live(obj, matches[0]))


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    table: list[tuple[str, list[str], Any]] = [
        ("/sobjects", ["GET"], _global),
        ("/sobjects/{sobject}", ["GET", "POST"], _basic),
        ("/sobjects/{sobject}/describe", ["GET"], _describe),
        ("/sobjects/{sobject}/{record_id}", ["GET", "PATCH", "DELETE"], _record),
        ("/sobjects/{sobject}/{field}/{value}", ["GET", "PATCH", "DELETE"], _by_external_id),
    ]
    return [
        r for path, methods, fn in table for r in api_route(org, path, methods, fn, after_write)
    ]
