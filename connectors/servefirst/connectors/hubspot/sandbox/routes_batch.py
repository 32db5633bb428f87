"""CRM objects v3 batch endpoints: read, create, update, upsert, archive (at most 100 inputs).

What fails how, as HubSpot does it:
- read and update: ids that do not exist are reported in a **207** ``BatchResponse...WithErrors``
  (one ``OBJECT_NOT_FOUND`` error listing them in ``context.ids``); the rest succeed.
- create, update and upsert validate every input first: an invalid property value fails the
  whole batch with **400** (nothing is written), a duplicate unique value with **409** naming
  one offender. A caller that wants per-record errors splits the batch and retries.
- archive answers 204 whatever the ids.
"""

from __future__ import annotations

from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError, validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, object_scopes
from servefirst.connectors.hubspot.sandbox.render import property_names, record_json, with_history
from servefirst.connectors.hubspot.sandbox.routes_objects import (
    create_record,
    resolve_associations,
    written_names,
)
from servefirst.connectors.hubspot.sandbox.schema import ObjectType
from servefirst.connectors.hubspot.sandbox.store import Record
from servefirst.connectors.hubspot.sandbox.wire import iso_ms, now_ms

BATCH = "/crm/v3/objects/{object_type}/batch"
LIMIT = 100


def batch_reply(
    started: int, results: list[dict[str, Any]], errors: list[ApiError], ok_status: int
) -> Reply:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_ms(started),
        "completedAt": iso_ms(now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = [e.standard_error() for e in errors]
        return 207, body
    return ok_status, body


def _missing(t: ObjectType, ids: list[str], verb: str) -> ApiError:
    return ApiError(
        404,
        "OBJECT_NOT_FOUND",
        f"Could not {verb} some {t.singular.upper()} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        context={"ids": ids},
    )


def _input_id(item: Any) -> str:
    if not isinstance(item, dict) or item.get("id") is None:
        raise validation("each input needs an `id`")
    return str(item["id"])


def batch_read(req: Req) -> Reply:
    started = now_ms()
    t = req.object_type()
    inputs = req.inputs(LIMIT)
    id_property = req.json_obj().get("idProperty")
    names = property_names(req.portal, t, req.json_obj().get("properties"))
    history = req.json_obj().get("propertiesWithHistory")
    if history is not None and not isinstance(history, list):
        raise validation("`propertiesWithHistory` must be a list of property names")
    results, missing = [], []
    for item in inputs:
        record_id = _input_id(item)
        try:
            record = req.portal.get(t, record_id, id_property)
        except ApiError as error:
            if error.status != 404:
                raise
            missing.append(record_id)
            continue
        results.append(with_history(record_json(record, names), record, history))
    errors = [_missing(t, missing, "get")] if missing else []
    return batch_reply(started, results, errors, 200)


def batch_create(req: Req) -> Reply:
    started = now_ms()
    t = req.object_type()
    inputs = req.inputs(LIMIT)
    for item in inputs:
        if not isinstance(item, dict):
            raise validation("each input must be an object with `properties`")
        req.portal.check_values(t, _with_pipeline(t, item.get("properties") or {}), None)
        resolve_associations(req.portal, t, item.get("associations"))
    _no_duplicates(t, req, [item.get("properties") or {} for item in inputs])
    records = [create_record(req.portal, t, item) for item in inputs]
    return batch_reply(started, [record_json(r, sorted(r.props)) for r in records], [], 201)


def _with_pipeline(t: ObjectType, values: dict[str, Any]) -> dict[str, Any]:
    if t.name == "deals" and not values.get("pipeline"):
        return {**values, "pipeline": "default"}
    return values


def _no_duplicates(t: ObjectType, req: Req, batches: list[dict[str, Any]]) -> None:
    """A unique value twice in one batch is a conflict, like one already stored."""
    for name in req.portal.tables[t.name].unique_names():
        seen: set[str] = set()
        for values in batches:
            value = values.get(name)
            if value:
                if str(value) in seen:
                    raise ApiError(
                        409, "CONFLICT", f"Duplicate {name}={value} in the batch inputs."
                    )
                seen.add(str(value))


def batch_update(req: Req) -> Reply:
    started = now_ms()
    t = req.object_type()
    inputs = req.inputs(LIMIT)
    planned: list[tuple[Record, dict[str, Any]]] = []
    missing = []
    for item in inputs:
        record_id = _input_id(item)
        try:
            record = req.portal.get(t, record_id, item.get("idProperty"))
        except ApiError as error:
            if error.status != 404:
                raise
            missing.append(record_id)
            continue
        values = item.get("properties") or {}
        req.portal.check_values(t, values, record)
        planned.append((record, values))
    results = []
    for record, values in planned:
        req.portal.update(t, record, values)
        results.append(record_json(record, written_names(t, values)))
    errors = [_missing(t, missing, "update")] if missing else []
    return batch_reply(started, results, errors, 200)


def batch_upsert(req: Req) -> Reply:
    started = now_ms()
    t = req.object_type()
    inputs = req.inputs(LIMIT)
    table = req.portal.tables[t.name]
    planned: list[tuple[Record | None, dict[str, Any]]] = []
    for item in inputs:
        if not isinstance(item, dict) or not item.get("idProperty") or item.get("id") is None:
            raise validation("each upsert input needs `idProperty`, `id` and `properties`")
        id_property, key = str(item["idProperty"]), str(item["id"])
        if id_property not in table.unique_names():
            raise validation(
                f"{id_property} is not a unique property of {t.name}: upsert needs a property "
                "created with hasUniqueValue=true",
            )
        holder = table.unique.get(id_property, {}).get(key)
        record = table.records[holder] if holder is not None else None
        values = {**(item.get("properties") or {}), id_property: key}
        req.portal.check_values(t, values if record else _with_pipeline(t, values), record)
        planned.append((record, values))
    _no_duplicates(t, req, [v for r, v in planned if r is None])
    results = []
    for record, values in planned:
        if record is None:
            created = req.portal.create(t, values)
            results.append({**record_json(created, sorted(created.props)), "new": True})
        else:
            req.portal.update(t, record, values)
            results.append({**record_json(record, written_names(t, values)), "new": False})
    return batch_reply(started, results, [], 200)


def batch_archive(req: Req) -> Reply:
    t = req.object_type()
    table = req.portal.tables[t.name]
    for item in req.inputs(LIMIT):
        record_id = _input_id(item)
        record = table.records.get(int(record_id)) if record_id.isdigit() else None
        if record is not None:
            req.portal.archive(t, record)
    return 204, None


ROUTES = [
    Endpoint(BATCH + "/read", "POST", batch_read, object_scopes("read")),
    Endpoint(BATCH + "/create", "POST", batch_create, object_scopes("write")),
    Endpoint(BATCH + "/update", "POST", batch_update, object_scopes("write")),
    Endpoint(BATCH + "/upsert", "POST", batch_upsert, object_scopes("write")),
    Endpoint(BATCH + "/archive", "POST", batch_archive, object_scopes("write")),
]
