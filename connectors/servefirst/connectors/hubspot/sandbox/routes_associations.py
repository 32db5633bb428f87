"""Associations v4: labels, record associations with their labels, and batch endpoints.

Reads answer numeric ``toObjectId`` and ``label: null`` for unlabelled types, as the real API
does. A batch read takes up to 1,000 ids and answers at most 500 associations per id (the
id's ``paging.next.after`` goes back in its input for the rest). An id with no associations
of the asked type comes back as a per-input error of a 207 (``subCategory
crm.associations.NO_ASSOCIATIONS_FOUND``), not as an empty result, so callers must treat that
error as "none". Removing the unlabelled association removes the labelled ones too.
"""

from __future__ import annotations

from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError, validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, pair_scopes
from servefirst.connectors.hubspot.sandbox.routes_batch import batch_reply
from servefirst.connectors.hubspot.sandbox.schema import ObjectType, object_type
from servefirst.connectors.hubspot.sandbox.store import Portal
from servefirst.connectors.hubspot.sandbox.wire import now_ms

RECORD = "/crm/v4/objects/{object_type}/{object_id}/associations"
PAIR = "/crm/v4/associations/{object_type}/{to_object_type}"
BATCH_READ_LIMIT = 1000
PAGE_LIMIT = 500


def _pair(req: Req) -> tuple[ObjectType, ObjectType]:
    return req.object_type(), object_type(req.path["to_object_type"])


def _id(raw: object) -> int:
    text = str(raw)
    if not text.isdigit():
        raise validation(f"{text!r} is not a record id")
    return int(text)


def types_json(portal: Portal, a: str, b: str, type_ids: set[int]) -> list[dict[str, Any]]:
    rows = []
    for type_id in sorted(type_ids):
        category, _, label = portal.association_schema.spec(a, b, type_id)
        rows.append({"category": category, "typeId": type_id, "label": label})
    return rows


def _labels_pair(
    portal: Portal, a: ObjectType, a_id: int, b: ObjectType, b_id: int
) -> dict[str, Any]:
    type_ids = portal.associations.targets(a.name, a_id, b.name).get(b_id, set())
    labels = [
        label
        for _, _, label in (
            portal.association_schema.spec(a.name, b.name, t) for t in sorted(type_ids)
        )
        if label
    ]
    return {
        "fromObjectTypeId": a.type_id,
        "fromObjectId": a_id,
        "toObjectTypeId": b.type_id,
        "toObjectId": b_id,
        "labels": labels,
    }


def _specs(portal: Portal, a: ObjectType, b: ObjectType, raw: object) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise validation(
            "the body must be a non-empty list of {associationCategory, associationTypeId}"
        )
    try:
        return [
            portal.association_schema.check(
                a.name, b.name, str(x["associationCategory"]), int(x["associationTypeId"])
            )
            for x in raw
        ]
    except (KeyError, TypeError, ValueError):
        raise validation("each type needs `associationCategory` and `associationTypeId`") from None


def create_labelled(req: Req) -> Reply:
    a, b = req.object_type(), object_type(req.path["to_object_type"])
    a_id, b_id = _id(req.path["object_id"]), _id(req.path["to_object_id"])
    type_ids = _specs(req.portal, a, b, req.body)
    req.portal.associate(a, a_id, b, b_id, type_ids)
    return 201, _labels_pair(req.portal, a, a_id, b, b_id)


def create_default(req: Req) -> Reply:
    started = now_ms()
    a, b = req.object_type(), object_type(req.path["to_object_type"])
    a_id, b_id = _id(req.path["object_id"]), _id(req.path["to_object_id"])
    return batch_reply(started, [_default(req.portal, a, a_id, b, b_id)], [], 200)


def _default(portal: Portal, a: ObjectType, a_id: int, b: ObjectType, b_id: int) -> dict[str, Any]:
    type_id = portal.association_schema.default(a.name, b.name)
    portal.associate(a, a_id, b, b_id, [type_id])
    return {
        "from": {"id": str(a_id)},
        "to": {"id": str(b_id)},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


def archive_pair(req: Req) -> Reply:
    a, b = req.object_type(), object_type(req.path["to_object_type"])
    req.portal.disassociate(a, _id(req.path["object_id"]), b, _id(req.path["to_object_id"]), None)
    return 204, None


def get_page(req: Req) -> Reply:
    a, b = req.object_type(), object_type(req.path["to_object_type"])
    a_id = _id(req.path["object_id"])
    if a_id not in req.portal.tables[a.name].records:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"{a.singular} {a_id} not found.")
    limit = req.q_int("limit", PAGE_LIMIT, PAGE_LIMIT)
    after = req.query.get("after") or "0"
    start = int(after) if after.isdigit() else 0
    targets = sorted(req.portal.associations.targets(a.name, a_id, b.name).items())
    rows = [
        {"toObjectId": to_id, "associationTypes": types_json(req.portal, a.name, b.name, ids)}
        for to_id, ids in targets[start : start + limit]
    ]
    reply: dict[str, Any] = {"results": rows}
    if start + limit < len(targets):
        reply["paging"] = {"next": {"after": str(start + limit)}}
    return 200, reply


def batch_read(req: Req) -> Reply:
    started = now_ms()
    a, b = _pair(req)
    results, errors = [], []
    for item in req.inputs(BATCH_READ_LIMIT):
        a_id = _id(item.get("id") if isinstance(item, dict) else item)
        after = str(item.get("after") or "0") if isinstance(item, dict) else "0"
        start = int(after) if after.isdigit() else 0
        every = sorted(req.portal.associations.targets(a.name, a_id, b.name).items())
        targets = every[start : start + PAGE_LIMIT]
        if not targets:
            errors.append(
                ApiError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {b.singular} is associated with {a.singular} {a_id}.",
                    context={
                        "fromObjectId": [str(a_id)],
                        "fromObjectType": [a.singular],
                        "toObjectType": [b.singular],
                    },
                    sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                )
            )
            continue
        row: dict[str, Any] = {
            "from": {"id": str(a_id)},
            "to": [
                {
                    "toObjectId": to_id,
                    "associationTypes": types_json(req.portal, a.name, b.name, ids),
                }
                for to_id, ids in targets
            ],
        }
        if start + PAGE_LIMIT < len(every):
            row["paging"] = {"next": {"after": str(start + PAGE_LIMIT)}}
        results.append(row)
    return batch_reply(started, results, errors, 200)


def _from_to(item: object) -> tuple[int, int]:
    if not isinstance(item, dict):
        raise validation("each input needs `from.id` and `to.id`")
    try:
        return _id(item["from"]["id"]), _id(item["to"]["id"])
    except (KeyError, TypeError):
        raise validation("each input needs `from.id` and `to.id`") from None


def batch_create(req: Req) -> Reply:
    started = now_ms()
    a, b = _pair(req)
    planned = []
    for item in req.inputs(2000):
        a_id, b_id = _from_to(item)
        planned.append((a_id, b_id, _specs(req.portal, a, b, item.get("types"))))
    results = []
    for a_id, b_id, type_ids in planned:
        req.portal.associate(a, a_id, b, b_id, type_ids)
        results.append(_labels_pair(req.portal, a, a_id, b, b_id))
    return batch_reply(started, results, [], 201)


def batch_default(req: Req) -> Reply:
    started = now_ms()
    a, b = _pair(req)
    pairs = [_from_to(item) for item in req.inputs(2000)]
    return batch_reply(started, [_default(req.portal, a, x, b, y) for x, y in pairs], [], 200)


def batch_archive(req: Req) -> Reply:
    a, b = _pair(req)
    for item in req.inputs(2000):
        if not isinstance(item, dict) or not isinstance(item.get("to"), list):
            raise validation("each input needs `from.id` and a `to` list of {id}")
        for target in item["to"]:
            req.portal.disassociate(a, _id(item["from"]["id"]), b, _id(target["id"]), None)
    return 204, None


def batch_archive_labels(req: Req) -> Reply:
    a, b = _pair(req)
    for item in req.inputs(2000):
        a_id, b_id = _from_to(item)
        req.portal.disassociate(a, a_id, b, b_id, _specs(req.portal, a, b, item.get("types")))
    return 204, None


def labels_all(req: Req) -> Reply:
    a, b = _pair(req)
    rows = req.portal.association_schema.pair_types(a.name, b.name)
    return 200, {"results": [{"category": c, "typeId": t, "label": label} for c, t, label in rows]}


def labels_create(req: Req) -> Reply:
    a, b = _pair(req)
    body = req.json_obj()
    forward, back = req.portal.association_schema.create_label(
        a.name,
        b.name,
        str(body.get("name") or ""),
        str(body.get("label") or ""),
        body.get("inverseLabel"),
    )
    return 200, {
        "results": [
            {"category": "USER_DEFINED", "typeId": lab.type_id, "label": lab.label}
            for lab in (forward, back)
        ]
    }


def labels_update(req: Req) -> Reply:
    a, b = _pair(req)
    body = req.json_obj()
    label = req.portal.association_schema.user_label(
        a.name, b.name, int(body.get("associationTypeId", 0))
    )
    label.label = str(body.get("label") or label.label)
    if body.get("inverseLabel"):
        req.portal.association_schema.labels[label.inverse_id].label = str(body["inverseLabel"])
    return 204, None


def labels_delete(req: Req) -> Reply:
    a, b = _pair(req)
    schema = req.portal.association_schema
    label = schema.user_label(a.name, b.name, _id(req.path["type_id"]))
    for (a_type, a_id), by_type in list(req.portal.associations.edges.items()):
        if a_type == a.name:
            for b_id, ids in list(by_type.get(b.name, {}).items()):
                if label.type_id in ids:
                    req.portal.disassociate(a, a_id, b, b_id, [label.type_id])
    schema.labels.pop(label.type_id, None)
    schema.labels.pop(label.inverse_id, None)
    return 204, None


READ, WRITE = pair_scopes("read"), pair_scopes("write")
ROUTES = [
    Endpoint(RECORD + "/default/{to_object_type}/{to_object_id}", "PUT", create_default, WRITE),
    Endpoint(RECORD + "/{to_object_type}/{to_object_id}", "PUT", create_labelled, WRITE),
    Endpoint(RECORD + "/{to_object_type}/{to_object_id}", "DELETE", archive_pair, WRITE),
    Endpoint(RECORD + "/{to_object_type}", "GET", get_page, READ),
    Endpoint(PAIR + "/batch/read", "POST", batch_read, READ),
    Endpoint(PAIR + "/batch/create", "POST", batch_create, WRITE),
    Endpoint(PAIR + "/batch/associate/default", "POST", batch_default, WRITE),
    Endpoint(PAIR + "/batch/archive", "POST", batch_archive, WRITE),
    Endpoint(PAIR + "/batch/labels/archive", "POST", batch_archive_labels, WRITE),
    Endpoint(PAIR + "/labels", "GET", labels_all, READ),
    Endpoint(PAIR + "/labels", "POST", labels_create, WRITE),
    Endpoint(PAIR + "/labels", "PUT", labels_update, WRITE),
    Endpoint(PAIR + "/labels/{type_id}", "DELETE", labels_delete, WRITE),
]
