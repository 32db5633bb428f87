"""How records read back: requested properties, defaults, stamps and v3 associations."""

from __future__ import annotations

from typing import Any

from servefirst.connectors.hubspot.sandbox.schema import ObjectType, object_type
from servefirst.connectors.hubspot.sandbox.store import Portal, Record
from servefirst.connectors.hubspot.sandbox.wire import iso_ms

V3_ASSOCIATION_PAGE = 100


def property_names(portal: Portal, t: ObjectType, wanted: list[str] | None) -> list[str]:
    """Which properties a read returns: the requested ones that exist (plus the stamps every
    read carries), or the type's defaults. Requested names that do not exist are left out."""
    if not wanted:
        return list(t.default_output)
    known = portal.tables[t.name].properties
    names = [n for n in dict.fromkeys(wanted) if n in known and not known[n].archived]
    return names + [n for n in t.always_output if n not in names]


def record_json(
    record: Record, names: list[str], props: dict[str, str] | None = None
) -> dict[str, Any]:
    source = record.props if props is None else props
    body = record.to_json({n: source.get(n) for n in names})
    if props is not None and props is record.indexed:
        body["updatedAt"] = iso_ms(record.indexed_ms)  # the version search still shows
    return body


def with_history(body: dict[str, Any], record: Record, names: list[str] | None) -> dict[str, Any]:
    """Adds ``propertiesWithHistory`` for ``names`` (when asked for): each property's values,
    newest first, as ``{"value", "timestamp", "sourceType", "sourceId", ...}``."""
    if names:
        body["propertiesWithHistory"] = {
            name: [
                {
                    "sourceId": None,
                    "sourceLabel": None,
                    "sourceType": "API",
                    "timestamp": iso_ms(stamp),
                    "updatedByUserId": None,
                    "value": value,
                }
                for value, stamp in record.property_history(name)
            ]
            for name in dict.fromkeys(names)
        }
    return body


def v3_associations(
    portal: Portal, t: ObjectType, record: Record, targets: list[str]
) -> dict[str, Any]:
    """The ``associations`` block of a v3 read: one entry per (id, association type), at most
    100 (HubSpot pages the rest; use the v4 association reads to get them)."""
    block: dict[str, Any] = {}
    for alias in targets:
        other = object_type(alias)
        rows = []
        for to_id, type_ids in sorted(
            portal.associations.targets(t.name, record.id, other.name).items()
        ):
            for type_id in sorted(type_ids):
                category, _, label = portal.association_schema.spec(t.name, other.name, type_id)
                if category == "USER_DEFINED":
                    name = portal.association_schema.labels[type_id].name
                else:
                    name = f"{t.singular}_to_{other.singular}"
                    if label:
                        name = f"{name}_{label.lower()}"
                rows.append({"id": str(to_id), "type": name})
        if rows:
            block[alias] = {"results": rows[:V3_ASSOCIATION_PAGE]}
            if len(rows) > V3_ASSOCIATION_PAGE:
                after = str(V3_ASSOCIATION_PAGE)
                link = f"/crm/v3/objects/{t.name}/{record.id}/associations/{other.name}"
                block[alias]["paging"] = {"next": {"after": after, "link": f"{link}?after={after}"}}
    return block
