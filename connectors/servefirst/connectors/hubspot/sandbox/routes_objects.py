"""CRM objects v3, one record at a time: list (``after`` paging), read, create, update, archive.

Creates accept associations inline; the target object type is inferred from each type id, as
HubSpot does. Both ``/crm/v3/objects/deals`` and ``/crm/v3/objects/0-3`` reach these handlers.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, object_scopes
from servefirst.connectors.hubspot.sandbox.render import (
    property_names,
    record_json,
    v3_associations,
    with_history,
)
from servefirst.connectors.hubspot.sandbox.schema import ObjectType, object_type
from servefirst.connectors.hubspot.sandbox.store import Portal, Record

BASE = "/crm/v3/objects/{object_type}"
#: A listing page asking for property history holds at most 50 records.
HISTORY_PAGE_LIMIT = 50


def resolve_associations(
    portal: Portal, t: ObjectType, raw: object
) -> list[tuple[ObjectType, int, list[int]]]:
    """Validates inline ``associations`` before anything is written: (type, id, type ids)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise validation("`associations` must be a list")
    resolved: list[tuple[ObjectType, int, list[int]]] = []
    for item in raw:
        try:
            to_id = str(item["to"]["id"])
            types = [
                (str(x["associationCategory"]), int(x["associationTypeId"])) for x in item["types"]
            ]
        except (KeyError, TypeError, ValueError):
            raise validation(
                "each association needs `to.id` and `types` of "
                "{associationCategory, associationTypeId}"
            ) from None
        if not types:
            raise validation(f"association to {to_id} has no types")
        targets = {portal.association_schema.target_type(t.name, type_id) for _, type_id in types}
        if len(targets) != 1:
            raise validation(f"association to {to_id} mixes types of different objects")
        other = object_type(targets.pop())
        for category, type_id in types:
            portal.association_schema.check(t.name, other.name, category, type_id)
        if not to_id.isdigit() or int(to_id) not in portal.tables[other.name].records:
            raise validation(
                f"{other.singular} {to_id} does not exist, so it cannot be associated",
                ids=[to_id],
            )
        resolved.append((other, int(to_id), [type_id for _, type_id in types]))
    return resolved


def create_record(portal: Portal, t: ObjectType, item: Any) -> Record:
    """One create with its inline associations (shared by single and batch create)."""
    if not isinstance(item, dict):
        raise validation("each input must be an object with `properties`")
    links = resolve_associations(portal, t, item.get("associations"))
    record = portal.create(t, item.get("properties") or {})
    for other, to_id, type_ids in links:
        portal.associate(t, record.id, other, to_id, type_ids)
    return record


def written_names(t: ObjectType, values: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys([*values, *t.always_output]))


def list_page(req: Req) -> Reply:
    t = req.object_type()
    portal = req.portal
    table = portal.tables[t.name]
    history = req.q_list("propertiesWithHistory")
    limit = req.q_int("limit", 10, HISTORY_PAGE_LIMIT if history else 100)
    archived = req.q_bool("archived")
    source = table.archived if archived else table.records
    ids = table.sorted_ids(portal.version, archived=archived)
    after = req.query.get("after")
    start = 0
    if after:
        if not after.isdigit():
            raise validation(f"after must be the cursor a previous page returned, got {after!r}")
        start = bisect_left(ids, int(after))
    chosen = ids[start : start + limit]
    names = property_names(portal, t, req.q_list("properties"))
    targets = req.q_list("associations") or []
    results = []
    for record_id in chosen:
        record = source[record_id]
        body = with_history(record_json(record, names), record, history)
        links = v3_associations(portal, t, record, targets)
        if links:
            body["associations"] = links
        results.append(body)
    reply: dict[str, Any] = {"results": results}
    if start + limit < len(ids):
        cursor = str(ids[start + limit])
        reply["paging"] = {
            "next": {"after": cursor, "link": f"{BASE.format(object_type=t.name)}?after={cursor}"}
        }
    return 200, reply


def get_one(req: Req) -> Reply:
    t = req.object_type()
    portal = req.portal
    if req.q_bool("archived"):
        record_id = req.path["record_id"]
        found = portal.tables[t.name].archived.get(int(record_id)) if record_id.isdigit() else None
        record = found or portal.get(t, record_id)
    else:
        record = portal.get(t, req.path["record_id"], req.query.get("idProperty"))
    body = record_json(record, property_names(portal, t, req.q_list("properties")))
    with_history(body, record, req.q_list("propertiesWithHistory"))
    links = v3_associations(portal, t, record, req.q_list("associations") or [])
    if links:
        body["associations"] = links
    return 200, body


def create_one(req: Req) -> Reply:
    t = req.object_type()
    record = create_record(req.portal, t, req.json_obj())
    return 201, record_json(record, sorted(record.props))


def update_one(req: Req) -> Reply:
    t = req.object_type()
    record = req.portal.get(t, req.path["record_id"], req.query.get("idProperty"))
    values = req.json_obj().get("properties") or {}
    req.portal.update(t, record, values)
    return 200, record_json(record, written_names(t, values))


def archive_one(req: Req) -> Reply:
    t = req.object_type()
    record_id = req.path["record_id"]
    record = req.portal.tables[t.name].records.get(int(record_id)) if record_id.isdigit() else None
    if record is not None:
        req.portal.archive(t, record)
    return 204, None


ROUTES = [
    Endpoint(BASE, "GET", list_page, object_scopes("read")),
    Endpoint(BASE, "POST", create_one, object_scopes("write")),
    Endpoint(BASE + "/{record_id}", "GET", get_one, object_scopes("read")),
    Endpoint(BASE + "/{record_id}", "PATCH", update_one, object_scopes("write")),
    Endpoint(BASE + "/{record_id}", "DELETE", archive_one, object_scopes("write")),
]
