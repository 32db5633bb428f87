"""Tooling API sObjects: ``tooling/sobjects/CustomField`` and ``.../ValidationRule``."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.http import (
    AfterWrite,
    Call,
    api_route,
    require_object,
)
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.values import to_json


def _collection(call: Call) -> tuple[int, Any]:
    record_id = call.org.tooling.create(
        call.params["sobject"], require_object(call.body), call.user_id
    )
    return 201, {"id": record_id, "success": True, "errors": [], "warnings": [], "infos": []}


def _record(call: Call) -> tuple[int, Any]:
    tooling = call.org.tooling
    name, record_id = call.params["sobject"], call.params["record_id"]
    if call.request.method == "PATCH":
        tooling.update(name, record_id, require_object(call.body), call.user_id)
        return 204, None
    if call.request.method == "DELETE":
        tooling.delete(name, record_id, call.user_id)
        return 204, None
    record = tooling.get(name, record_id)
    obj = call.org.store.tooling.objects[name]
    out: dict[str, Any] = {
        "attributes": {
            "type": name,
            "url": f"/services/data/v{call.version}/tooling/sobjects/{name}/{record['Id']}",
        }
    }
    for field in obj.fields:
        out[field] = to_json(record.get(field))
    return 200, out


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    return [
        *api_route(org, "/tooling/sobjects/{sobject}", ["POST"], _collection, after_write),
        *api_route(
            org,
            "/tooling/sobjects/{sobject}/{record_id}",
            ["GET", "PATCH", "DELETE"],
            _record,
            after_write,
        ),
    ]
