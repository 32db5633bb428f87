"""A compiled query: which rows match, in which order, and how each row renders as JSON.

Rendering builds one closure per projection level (fields, parent lookups, child subqueries)
the first time a page is rendered, so each row costs a handful of dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from servefirst.connectors.salesforce.sandbox.schema import FieldDef, ObjectDef, Schema
from servefirst.connectors.salesforce.sandbox.soql.nodes import Query
from servefirst.connectors.salesforce.sandbox.store import Record, Store

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]
Readable = Callable[[ObjectDef, FieldDef], bool]
#: Renders one row: (record, its sObject type, API version) -> JSON-ready dict.
Renderer = Callable[[Record, str, str], dict[str, Any]]


@dataclass
class Catalog:
    """What a query runs against: one API's schema, the records, and the user's field access."""

    schema: Schema
    store: Store
    readable: Readable
    today: date
    include_deleted: bool = False
    api_prefix: str = ""  # "" for the data API, "tooling/" for the Tooling API


@dataclass
class RowNode:
    key: str
    getter: Getter | None = None
    #: the stored value is already its JSON form (no date/datetime conversion)
    plain: bool = False
    lookup: Callable[[Record], tuple[str, Record] | None] | None = None
    nodes: list[RowNode] = field(default_factory=list)
    children: CompiledQuery | None = None
    child_field: tuple[str, str] = ("", "")


class CompiledQuery:
    """A query ready to run: predicate, ordering, window and projection."""

    def __init__(self, catalog: Catalog, obj: ObjectDef, query: Query) -> None:
        self.catalog = catalog
        self.obj = obj
        self.query = query
        self.count = query.count
        self.predicate: Predicate | None = None
        self.nodes: list[RowNode] = []
        self.order: list[tuple[Getter, bool, bool]] = []
        self.limit = query.limit
        self.offset = query.offset or 0
        self.selected: list[FieldDef] = []
        self._renderer: Renderer | None = None

    def rows(self, records: Iterable[Record]) -> list[Record]:
        """The matching records, ordered and windowed (OFFSET, LIMIT)."""
        include_deleted = self.catalog.include_deleted
        predicate = self.predicate
        if predicate is None:
            found = [r for r in records if include_deleted or not r.get("IsDeleted")]
        else:
            found = [
                r for r in records if (include_deleted or not r.get("IsDeleted")) and predicate(r)
            ]
        for getter, descending, nulls_first in reversed(self.order):
            present = [r for r in found if getter(r) is not None]
            nulls = [r for r in found if getter(r) is None]
            present.sort(key=getter, reverse=descending)
            found = nulls + present if nulls_first else present + nulls
        end = None if self.limit is None else self.offset + self.limit
        return found[self.offset : end] if self.offset or end is not None else found

    def render(self, record: Record, version: str) -> dict[str, Any]:
        if self._renderer is None:
            self._renderer = self._build(self.nodes)
        return self._renderer(record, self.obj.name, version)

    def _build(self, nodes: list[RowNode]) -> Renderer:
        """One closure per projection level, so rendering a row does no dispatch on node kinds.

        Plain fields are copied by name; the rest (dates, lookups, subqueries) call a part.
        Keys are laid out first from a template so the output keeps the SELECT order.
        """
        template: dict[str, Any] = {"attributes": None, **{n.key: None for n in nodes}}
        plain = [n.key for n in nodes if n.getter is not None and n.plain]
        parts: list[tuple[str, Callable[[Record, str], Any]]] = []
        for node in nodes:
            if node.getter is not None and not node.plain:
                parts.append((node.key, _field_part(node.getter)))
            elif node.lookup is not None:
                parts.append((node.key, self._build_lookup(node.lookup, self._build(node.nodes))))
            elif node.children is not None:
                parts.append((node.key, self._children_part(node)))
        prefix = f"{self.catalog.api_prefix}sobjects/"

        def render(record: Record, type_name: str, version: str) -> dict[str, Any]:
            out = template.copy()
            out["attributes"] = {
                "type": type_name,
                "url": f"/services/data/v{version}/{prefix}{type_name}/{record['Id']}",
            }
            get = record.get
            for key in plain:
                out[key] = get(key)
            for key, part in parts:
                out[key] = part(record, version)
            return out

        return render

    def _children_part(self, node: RowNode) -> Callable[[Record, str], Any]:
        def render(record: Record, version: str) -> Any:
            return self._render_children(record, node, version)

        return render

    @staticmethod
    def _build_lookup(
        lookup: Callable[[Record], tuple[str, Record] | None], inner: Renderer
    ) -> Callable[[Record, str], Any]:
        def render(record: Record, version: str) -> Any:
            found = lookup(record)
            return None if found is None else inner(found[1], found[0], version)

        return render

    def _render_children(self, record: Record, node: RowNode, version: str) -> Any:
        child = node.children
        assert child is not None  # noqa: S101 - set together with the node kind
        child_object, child_field = node.child_field
        table = self.catalog.store.tables[child_object]
        ids = self.catalog.store.children(child_object, child_field, record["Id"])
        if not ids:
            return None
        rows = child.rows(table[i] for i in ids)
        if not rows:
            return None
        return {
            "totalSize": len(rows),
            "done": True,
            "records": [child.render(r, version) for r in rows],
        }


def _field_part(getter: Getter) -> Callable[[Record, str], Any]:
    def render(record: Record, _version: str) -> Any:
        return getter(record)

    return render
