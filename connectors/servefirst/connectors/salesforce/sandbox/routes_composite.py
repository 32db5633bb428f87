"""Composite sObject collections: create, update, upsert, delete and retrieve up to 200 records.

The reply is HTTP 200 with one result per record, in order, even when records fail. With
``allOrNone`` true, the first failure rolls back every change made by the call (the store
journal undoes them) and every other record reports ALL_OR_NONE_OPERATION_ROLLED_BACK: a
rolled-back create reports no ``id`` (the record never existed), a rolled-back update or delete
keeps the id it names. An update whose id belongs to another object type than its
``attributes.type`` fails with MALFORMED_ID on ``Id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request
from servefirst.connectors.salesforce.sandbox.http import (
    AfterWrite,
    Call,
    api_route,
    require_object,
)
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.routes_sobjects import object_of, render_record

MAX_RECORDS = 200
_ROLLED_BACK = SfError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)
Operation = Callable[[Any], dict[str, Any]]


class _RollBackError(Exception):
    """Raised inside the store transaction to undo an allOrNone call."""


def _too_many(count: int) -> None:
    if count > MAX_RECORDS:
        raise bad_request(
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )


def _run_all(
    call: Call,
    items: list[Any],
    all_or_none: bool,
    operation: Operation,
    *,
    creates: bool = False,
) -> list[Any]:
    """Apply ``operation`` to each item; per-record results, with allOrNone rollback.

    ``creates``: the operation makes new records, whose ids vanish with a rollback.
    """
    results: list[dict[str, Any]] = []
    failed = False

    def apply_each() -> None:
        nonlocal failed
        for item in items:
            try:
                results.append(operation(item))
            except SfError as exc:
                failed = True
                results.append({"success": False, "errors": [exc.collection_error()]})
        if failed and all_or_none:
            raise _RollBackError

    try:
        with call.org.store.transaction():
            apply_each()
    except _RollBackError:
        results = [r if not r["success"] else _rolled_back(r, creates) for r in results]
    return results


def _rolled_back(result: dict[str, Any], created: bool) -> dict[str, Any]:
    rolled: dict[str, Any] = {} if created else {"id": result.get("id")}
    return {**rolled, "success": False, "errors": [_ROLLED_BACK.collection_error()]}


def _records(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = require_object(call.body)
    records = body.get("records")
    if not isinstance(records, list):
        raise bad_request("JSON_PARSER_ERROR", "The request body needs a 'records' array")
    _too_many(len(records))
    return records, bool(body.get("allOrNone", False))


def _type_of(call: Call, record: Any) -> Any:
    if not isinstance(record, dict):
        raise bad_request("JSON_PARSER_ERROR", "Each record must be a JSON object")
    attributes = record.get("attributes") or {}
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not name:
        raise bad_request("INVALID_TYPE", "Must specify a type in attributes for each record")
    obj = call.org.store.data.get(str(name))
    if obj is None:
        raise bad_request("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return obj


def _collection(call: Call) -> tuple[int, Any]:
    writer = call.org.writer
    method = call.request.method
    if method == "DELETE":
        ids = [i for i in call.query.get("ids", "").split(",") if i]
        _too_many(len(ids))
        all_or_none = call.query.get("allOrNone", "false").lower() == "true"

        def delete(record_id: str) -> dict[str, Any]:
            obj = call.org.store.data.by_prefix(record_id) if to18(record_id) else None
            if obj is None:
                raise bad_request("MALFORMED_ID", f"malformed id {record_id}", [])
            writer.delete(obj, record_id, call.user_id)
            return {"id": to18(record_id), "success": True, "errors": []}

        return 200, _run_all(call, ids, all_or_none, delete)
    records, all_or_none = _records(call)

    def create(record: Any) -> dict[str, Any]:
        obj = _type_of(call, record)
        return {"id": writer.create(obj, record, call.user_id), "success": True, "errors": []}

    def update(record: Any) -> dict[str, Any]:
        obj = _type_of(call, record)
        record_id = record.get("id") or record.get("Id")
        if not record_id:
            raise bad_request("MISSING_ARGUMENT", "Id not specified in an update call", [])
        full = to18(str(record_id))
        if full is None or full[:3] != obj.key_prefix:
            raise bad_request(
                "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        values = {k: v for k, v in record.items() if k not in ("id", "Id")}
        writer.update(obj, full, values, call.user_id)
        return {"id": full, "success": True, "errors": []}

    if method == "POST":
        return 200, _run_all(call, records, all_or_none, create, creates=True)
    return 200, _run_all(call, records, all_or_none, update)


def _retrieve(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    if call.request.method == "POST":
        body = require_object(call.body)
        ids, fields = list(body.get("ids") or []), list(body.get("fields") or [])
    else:
        ids = [i for i in call.query.get("ids", "").split(",") if i]
        fields = [f for f in call.query.get("fields", "").split(",") if f]
    _too_many(len(ids))
    if not fields:
        raise bad_request("MISSING_ARGUMENT", "fields is required", [])
    out: list[Any] = []
    for record_id in ids:
        full = to18(record_id)
        record = call.org.store.get(obj.name, full) if full else None
        live = record is not None and not record.get("IsDeleted")
        out.append(render_record(call, obj, record, fields) if live and record else None)
    return 200, out


def _upsert(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    field_name = call.params["field"]
    records, all_or_none = _records(call)
    seen: dict[str, int] = {}
    for record in records:
        if isinstance(record, dict) and record.get(field_name) is not None:
            key = str(record[field_name]).casefold()
            seen[key] = seen.get(key, 0) + 1

    def upsert(record: Any) -> dict[str, Any]:
        _type_of(call, record)
        value = record.get(field_name)
        if value is None:
            raise bad_request("MISSING_ARGUMENT", f"{field_name} not specified", [field_name])
        if seen.get(str(value).casefold(), 0) > 1:
            raise bad_request(
                "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [field_name]
            )
        values = {k: v for k, v in record.items() if k != field_name}
        record_id, created = call.org.writer.upsert(
            obj, field_name, str(value), values, call.user_id
        )
        return {"id": record_id, "success": True, "errors": [], "created": created}

    return 200, _run_all(call, records, all_or_none, upsert)


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    table: list[tuple[str, list[str], Any]] = [
        ("/composite/sobjects", ["POST", "PATCH", "DELETE"], _collection),
        ("/composite/sobjects/{sobject}", ["GET", "POST"], _retrieve),
        ("/composite/sobjects/{sobject}/{field}", ["PATCH"], _upsert),
    ]
    return [
        r for path, methods, fn in table for r in api_route(org, path, methods, fn, after_write)
    ]
