"""CRM search: filter groups (OR of ANDs), every documented operator, one sort, paging.

Limits as HubSpot documents them (since August 2024): at most 5 filter groups, 10 filters
per group and 25 in all (400 past them), one sort, ``limit`` at most 200, and at most 10,000
results per query: ``total`` still counts every match and ``paging.next`` still points past
10,000, but asking for that page answers 400, so a client must window (e.g. ``hs_object_id GT
<last>``) to read further.

Date and datetime filter values may be epoch milliseconds or ISO strings. Strings compare
case-insensitively. ``NEQ``, ``NOT_IN`` and ``NOT_CONTAINS_TOKEN`` also match records without
a value. With index lag on, search sees each record as it was before writes younger than the
lag (a record created within the lag is missing). A free-text ``query`` matches records whose
default searchable properties contain it (``SEARCHABLE``), never any other property.

The sorted id list of a query is cached while the portal is unchanged, so paging through one
query costs one scan, then a slice per page.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, object_scopes
from servefirst.connectors.hubspot.sandbox.render import property_names, record_json
from servefirst.connectors.hubspot.sandbox.schema import ObjectType
from servefirst.connectors.hubspot.sandbox.store import Portal, Table
from servefirst.connectors.hubspot.sandbox.wire import filter_key, record_key

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
MAX_LIMIT, RESULT_CAP = 200, 10_000
NEGATIVE = frozenset({"NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN", "NOT_HAS_PROPERTY"})
Predicate = Callable[[dict[str, str]], bool]
_CACHE_SIZE = 16


def _compare(op: str, left: float | str, right: float | str) -> bool:
    if op == "EQ":
        return left == right
    if op == "NEQ":
        return left != right
    if op == "LT":
        return left < right  # type: ignore[operator]
    if op == "LTE":
        return left <= right  # type: ignore[operator]
    if op == "GT":
        return left > right  # type: ignore[operator]
    return left >= right  # type: ignore[operator]


def _tokens_match(text: str, pattern: str) -> bool:
    words = text.lower().replace(";", " ").split()
    return any(fnmatch.fnmatchcase(w, pattern) for w in words) or fnmatch.fnmatchcase(
        text.lower(), pattern
    )


def compile_filter(table: Table, raw: Any) -> Predicate:
    """One filter as a predicate over the property values search sees."""
    if not isinstance(raw, dict) or "propertyName" not in raw or "operator" not in raw:
        raise validation("each filter needs `propertyName` and `operator`")
    name, op = str(raw["propertyName"]), str(raw["operator"])
    prop = table.properties.get(name)
    if prop is None:
        raise validation(f"There was a problem with the request: property {name} does not exist.")
    kind = prop.type

    def key(value: Any) -> float | str:
        try:
            return filter_key(kind, str(value))
        except ValueError:
            raise validation(f"{value!r} is not a valid value to compare with {name}") from None

    def value_of(props: dict[str, str]) -> float | str | None:
        stored = props.get(name)
        return None if stored is None else record_key(kind, stored)

    if op == "HAS_PROPERTY":
        return lambda p: name in p
    if op == "NOT_HAS_PROPERTY":
        return lambda p: name not in p
    if op in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise validation(f"{op} needs a non-empty `values` list ({name})")
        wanted = {key(v) for v in values}
        if op == "IN":
            return lambda p: value_of(p) in wanted
        return lambda p: value_of(p) not in wanted
    if op == "BETWEEN":
        if raw.get("value") is None or raw.get("highValue") is None:
            raise validation(f"BETWEEN needs `value` and `highValue` ({name})")
        low, high = key(raw["value"]), key(raw["highValue"])

        def between(p: dict[str, str]) -> bool:
            v = value_of(p)
            return v is not None and low <= v <= high  # type: ignore[operator]

        return between
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(raw.get("value", "")).lower()
        if op == "CONTAINS_TOKEN":
            return lambda p: name in p and _tokens_match(p[name], pattern)
        return lambda p: name not in p or not _tokens_match(p[name], pattern)
    if op not in ("EQ", "NEQ", "LT", "LTE", "GT", "GTE"):
        raise validation(f"Unknown operator {op!r}")
    if raw.get("value") is None:
        raise validation(f"{op} needs a `value` ({name})")
    target = key(raw["value"])

    def compare(p: dict[str, str]) -> bool:
        v = value_of(p)
        if v is None:
            return op == "NEQ"
        try:
            return _compare(op, v, target)
        except TypeError:
            return False

    return compare


def compile_groups(table: Table, groups: Any) -> Predicate:
    if groups is None:
        groups = []
    if not isinstance(groups, list):
        raise validation("`filterGroups` must be a list")
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS})")
    compiled: list[list[Predicate]] = []
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation("each filter group needs a `filters` list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(
                f"Too many filters in a group: {len(filters)} (at most {MAX_FILTERS_PER_GROUP})"
            )
        total += len(filters)
        compiled.append([compile_filter(table, f) for f in filters])
    if total > MAX_FILTERS:
        raise validation(f"Too many filters: {total} (at most {MAX_FILTERS} in all groups)")
    if not compiled:
        return lambda _: True
    return lambda p: any(all(f(p) for f in group) for group in compiled)


def parse_sort(table: Table, sorts: Any) -> tuple[str, bool]:
    """(property, descending); sorts may be objects or strings like ``-createdate``."""
    if not sorts:
        return "hs_object_id", False
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise validation("Search supports one sort only")
    sort = sorts[0]
    if isinstance(sort, str):
        name, descending = sort.lstrip("-"), sort.startswith("-")
    elif isinstance(sort, dict) and "propertyName" in sort:
        name = str(sort["propertyName"])
        descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        raise validation("a sort needs `propertyName` and `direction`")
    if name not in table.properties:
        raise validation(f"cannot sort on {name}: the property does not exist")
    return name, descending


#: What a search ``query`` looks in: each object's default searchable properties, not every
#: value (HubSpot's search guide lists them for contacts, companies and deals; for tasks and
#: notes the subject and body are assumed).
SEARCHABLE: dict[str, tuple[str, ...]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "hs_additional_emails",
        "fax",
        "mobilephone",
        "company",
        "hs_marketable_until_renewal",
    ),
    "companies": ("website", "phone", "name", "domain"),
    "deals": ("dealname", "pipeline", "dealstage", "description", "dealtype"),
    "tasks": ("hs_task_subject", "hs_task_body"),
    "notes": ("hs_note_body",),
}


def _matches_query(view: dict[str, str], names: tuple[str, ...], query: str) -> bool:
    return any(query in view[n].lower() for n in names if n in view)


def matching_ids(portal: Portal, t: ObjectType, body: dict[str, Any]) -> list[int]:
    """The ids a query matches, sorted as asked (cached while nothing changed)."""
    table = portal.tables[t.name]
    predicate = compile_groups(table, body.get("filterGroups"))
    sort_name, descending = parse_sort(table, body.get("sorts"))
    query = str(body.get("query") or "").lower()
    searchable = SEARCHABLE.get(t.name, ())
    mono = time.monotonic()
    cache = portal.search_cache
    cache_key = (
        portal.version,
        t.name,
        json.dumps([body.get("filterGroups"), body.get("sorts"), query], sort_keys=True),
    )
    lagging = mono < portal.lag_until
    if not lagging and cache_key in cache:
        return cache[cache_key]
    kind = table.properties[sort_name].type
    present: list[tuple[float | str, int]] = []
    absent: list[int] = []
    for record in table.records.values():
        view = record.search_view(mono) if lagging else record.props
        if view is None or not predicate(view):
            continue
        if query and not _matches_query(view, searchable, query):
            continue
        stored = view.get(sort_name)
        if stored is None:
            absent.append(record.id)
        else:
            present.append((record_key(kind, stored), record.id))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    ids = [record_id for _, record_id in present] + absent
    if not lagging:
        cache[cache_key] = ids
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return ids


def do_search(req: Req) -> Reply:
    t = req.object_type()
    body = req.json_obj()
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise validation(f"limit must be between 0 and {MAX_LIMIT}, got {limit!r}")
    after_raw = str(body.get("after") or "0")
    if not after_raw.isdigit():
        raise validation(f"after must be a number, got {after_raw!r}")
    after = int(after_raw)
    if after >= RESULT_CAP:
        raise validation(
            f"There was a problem with the request. Search results are limited to {RESULT_CAP} "
            f"per query; after={after} is past it. Narrow the query (e.g. by hs_object_id) "
            "to page further.",
            after=[after_raw],
        )
    portal = req.portal
    if portal.page_cap is not None:
        limit = min(limit, portal.page_cap)
    ids = matching_ids(portal, t, body)
    end = min(after + limit, RESULT_CAP)
    names = property_names(portal, t, body.get("properties"))
    mono = time.monotonic()
    lagging = mono < portal.lag_until
    results = []
    for record_id in ids[after:end]:
        record = portal.tables[t.name].records[record_id]
        view = record.search_view(mono) if lagging else None
        results.append(record_json(record, names, view))
    reply: dict[str, Any] = {"total": len(ids), "results": results}
    if end < len(ids):
        reply["paging"] = {"next": {"after": str(end)}}
    return 200, reply


ROUTES = [
    Endpoint(
        "/crm/v3/objects/{object_type}/search", "POST", do_search, object_scopes("read"), True
    ),
]
