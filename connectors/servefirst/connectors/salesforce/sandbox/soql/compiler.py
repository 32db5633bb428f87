"""Compile a parsed SOQL query against the org's schema into closures, once per request.

Names are resolved and type-checked before any row is read (INVALID_TYPE, INVALID_FIELD,
filter type errors), then each row costs one predicate call and, when rendered, one projection:
evaluation is linear in the rows scanned, which keeps 100,000-row pulls fast.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from servefirst.connectors.salesforce.sandbox.errors import SfError
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.schema import (
    NUMBER_TYPES,
    FieldDef,
    FieldType,
    ObjectDef,
    Schema,
)
from servefirst.connectors.salesforce.sandbox.soql.dates import date_range
from servefirst.connectors.salesforce.sandbox.soql.lexer import query_error
from servefirst.connectors.salesforce.sandbox.soql.nodes import (
    Compare,
    Condition,
    FieldRef,
    Literal,
    Logical,
    Not,
    Query,
)
from servefirst.connectors.salesforce.sandbox.store import Record, Store
from servefirst.connectors.salesforce.sandbox.values import to_json

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]
Readable = Callable[[ObjectDef, FieldDef], bool]
#: Renders one row: (record, its sObject type, API version) -> JSON-ready dict.
Renderer = Callable[[Record, str, str], dict[str, Any]]

_CUSTOM_HINT = (
    "If you are attempting to use a custom {what}, be sure to append the '{suffix}' after the "
    "custom {what} name. Please reference your WSDL or the describe call for the appropriate names."
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TEXTUAL = frozenset(
    {
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.PICKLIST,
        FieldType.EMAIL,
        FieldType.PHONE,
        FieldType.URL,
    }
)
_EXPECTED: dict[FieldType, tuple[tuple[str, ...], str]] = {
    FieldType.DATE: (("date", "range"), "date"),
    FieldType.DATETIME: (("datetime", "range"), "dateTime"),
    FieldType.BOOLEAN: (("boolean",), "boolean"),
}


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
class _Node:
    key: str
    getter: Getter | None = None
    lookup: Callable[[Record], tuple[str, Record] | None] | None = None
    nodes: list[_Node] = field(default_factory=list)
    children: CompiledQuery | None = None
    child_field: tuple[str, str] = ("", "")


def _norm_text(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class CompiledQuery:
    """A query ready to run: predicate, ordering, window and projection."""

    def __init__(self, catalog: Catalog, obj: ObjectDef, query: Query) -> None:
        self.catalog = catalog
        self.obj = obj
        self.query = query
        self.count = query.count
        self.predicate: Predicate | None = None
        self.nodes: list[_Node] = []
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

    def _build(self, nodes: list[_Node]) -> Renderer:
        """One closure per projection level, so rendering a row does no dispatch on node kinds."""
        parts: list[tuple[str, Callable[[Record, str], Any]]] = []
        for node in nodes:
            if node.getter is not None:
                parts.append((node.key, _field_part(node.getter)))
            elif node.lookup is not None:
                parts.append((node.key, self._build_lookup(node.lookup, self._build(node.nodes))))
            elif node.children is not None:
                parts.append((node.key, self._children_part(node)))
        prefix = f"{self.catalog.api_prefix}sobjects/"

        def render(record: Record, type_name: str, version: str) -> dict[str, Any]:
            out: dict[str, Any] = {
                "attributes": {
                    "type": type_name,
                    "url": f"/services/data/v{version}/{prefix}{type_name}/{record['Id']}",
                }
            }
            for key, part in parts:
                out[key] = part(record, version)
            return out

        return render

    def _children_part(self, node: _Node) -> Callable[[Record, str], Any]:
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

    def _render_children(self, record: Record, node: _Node, version: str) -> Any:
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


class Compiler:
    """Turns a Query into a CompiledQuery, raising Salesforce's errors for bad names and types."""

    def __init__(self, text: str, catalog: Catalog) -> None:
        self.text = text
        self.catalog = catalog

    def error(self, column: int, message: str, code: str) -> SfError:
        return query_error(self.text, column, message, code)

    def compile(self, query: Query, parent: ObjectDef | None = None) -> CompiledQuery:
        obj = self._object(query) if parent is None else parent
        compiled = CompiledQuery(self.catalog, obj, query)
        for item in query.fields:
            if isinstance(item, Query):
                if parent is not None:
                    raise self.error(item.object_column, "unexpected token: (", "MALFORMED_QUERY")
                compiled.nodes.append(self._subquery(obj, item))
            else:
                self._select(obj, item, compiled.nodes, compiled.selected)
        if query.where is not None:
            compiled.predicate = self._condition(obj, query.where)
        for order in query.order:
            getter, definition = self._path(obj, order.field)
            key = _sort_getter(getter, definition)
            compiled.order.append((key, order.descending, order.nulls_first))
        if compiled.offset > 2000:
            raise SfError(400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        return compiled

    def _object(self, query: Query) -> ObjectDef:
        obj = self.catalog.schema.get(query.object_name)
        if obj is None:
            raise self.error(
                query.object_column,
                f"sObject type '{query.object_name}' is not supported. "
                + _CUSTOM_HINT.format(what="object", suffix="__c"),
                "INVALID_TYPE",
            )
        return obj

    def _subquery(self, obj: ObjectDef, query: Query) -> _Node:
        relation = obj.child(query.object_name)
        if relation is None:
            raise self.error(
                query.object_column,
                f"Didn't understand relationship '{query.object_name}' in FROM part of query "
                "call. " + _CUSTOM_HINT.format(what="relationship", suffix="__r"),
                "INVALID_TYPE",
            )
        child_obj = self.catalog.store.object(relation.child)
        compiled = self.compile(query, parent=child_obj)
        return _Node(relation.name, children=compiled, child_field=(relation.child, relation.field))

    def _hops(
        self, obj: ObjectDef, ref: FieldRef
    ) -> tuple[list[tuple[FieldDef, list[ObjectDef]]], FieldDef, ObjectDef]:
        """The lookups crossed by a dotted path, the final field and the object that holds it."""
        parts = ref.path.split(".")
        hops: list[tuple[FieldDef, list[ObjectDef]]] = []
        current = [obj]
        for part in parts[:-1]:
            lookup = current[0].lookup(part)
            if lookup is None:
                raise self.error(
                    ref.column,
                    f"Didn't understand relationship '{part}' in field path. "
                    + _CUSTOM_HINT.format(what="relationship", suffix="__r"),
                    "INVALID_FIELD",
                )
            targets = [self.catalog.store.object(t) for t in lookup.reference_to]
            hops.append((lookup, targets))
            current = targets
        name = parts[-1]
        for holder in current:
            definition = holder.field(name)
            if definition is not None and self.catalog.readable(holder, definition):
                return hops, definition, holder
        raise self.error(
            ref.column,
            f"No such column '{name}' on entity '{current[0].name}'. "
            + _CUSTOM_HINT.format(what="field", suffix="__c"),
            "INVALID_FIELD",
        )

    def _lookup(
        self, lookup: FieldDef, targets: list[ObjectDef]
    ) -> Callable[[Record], tuple[str, Record] | None]:
        tables = {t.key_prefix: (t.name, self.catalog.store.tables[t.name]) for t in targets}
        name = lookup.name

        def follow(record: Record) -> tuple[str, Record] | None:
            parent_id = record.get(name)
            if not parent_id:
                return None
            found = tables.get(parent_id[:3])
            if found is None:
                return None
            parent = found[1].get(parent_id)
            return None if parent is None else (found[0], parent)

        return follow

    def _path(self, obj: ObjectDef, ref: FieldRef) -> tuple[Getter, FieldDef]:
        hops, definition, _ = self._hops(obj, ref)
        name = definition.name
        getter: Getter = operator.methodcaller("get", name)
        for lookup, targets in reversed(hops):
            follow = self._lookup(lookup, targets)
            inner = getter

            def getter(record: Record, follow: Any = follow, inner: Getter = inner) -> Any:
                found = follow(record)
                return None if found is None else inner(found[1])

        return getter, definition

    def _select(
        self, obj: ObjectDef, ref: FieldRef, nodes: list[_Node], selected: list[FieldDef]
    ) -> None:
        hops, definition, _ = self._hops(obj, ref)
        level = nodes
        for lookup, targets in hops:
            key = lookup.relationship_name or lookup.name
            node = next((n for n in level if n.key == key and n.lookup is not None), None)
            if node is None:
                node = _Node(key, lookup=self._lookup(lookup, targets))
                level.append(node)
            level = node.nodes
        if any(n.key == definition.name and n.getter is not None for n in level):
            raise self.error(
                ref.column, f"duplicate field selected: {definition.name}", "MALFORMED_QUERY"
            )
        level.append(_Node(definition.name, getter=_json_getter(definition)))
        selected.append(definition)

    def _condition(self, obj: ObjectDef, condition: Condition) -> Predicate:
        if isinstance(condition, Not):
            inner = self._condition(obj, condition.inner)
            return lambda r: not inner(r)
        if isinstance(condition, Logical):
            parts = [self._condition(obj, p) for p in condition.parts]
            if condition.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        return self._compare(obj, condition)

    def _compare(self, obj: ObjectDef, compare: Compare) -> Predicate:
        getter, definition = self._path(obj, compare.field)
        if not definition.filterable or definition.type in (FieldType.TEXTAREA, FieldType.COMPLEX):
            raise self.error(
                compare.field.column,
                f"field '{definition.name}' can not be filtered in a query call",
                "INVALID_FIELD",
            )
        value = compare.value
        if isinstance(value, Query):
            wanted = self._semi_join(value)
            negate = compare.op == "NOT IN"
            return lambda r: (getter(r) in wanted) != negate
        if isinstance(value, tuple):
            members = {self._operand(definition, lit) for lit in value}
            normalise = _normaliser(definition)
            negate = compare.op == "NOT IN"
            return lambda r: (normalise(getter(r)) in members) != negate
        if compare.op == "LIKE":
            return self._like(definition, getter, value)
        if value.kind == "range":
            return self._range(definition, getter, compare.op, value)
        operand = self._operand(definition, value)
        normalise = _normaliser(definition)
        op = _OPS[compare.op]
        if operand is None:
            wants_null = compare.op == "="
            return lambda r: (getter(r) is None) == wants_null
        if compare.op == "!=":
            return lambda r: normalise(getter(r)) != operand
        return lambda r: (v := getter(r)) is not None and op(normalise(v), operand)

    def _operand(self, definition: FieldDef, literal: Literal) -> Any:
        if literal.kind == "null":
            return None
        kind = definition.type
        if kind in (FieldType.ID, FieldType.REFERENCE):
            full = to18(str(literal.value)) if literal.kind == "string" else None
            if full is None:
                raise self.error(
                    literal.column,
                    f"invalid ID field: {literal.value}",
                    "INVALID_QUERY_FILTER_OPERATOR",
                )
            return full
        allowed, type_name = _EXPECTED.get(kind, (("string",), "string"))
        if kind in NUMBER_TYPES:
            allowed, type_name = ("number",), "double"
        if literal.kind not in allowed:
            quoting = "be" if type_name == "string" else "not be"
            raise self.error(
                literal.column,
                f"value of filter criterion for field '{definition.name}' must be of type "
                f"{type_name} and should {quoting} enclosed in quotes",
                "INVALID_FIELD",
            )
        if literal.kind == "range":
            raise self.error(
                literal.column, "date literals need a comparison operator", "MALFORMED_QUERY"
            )
        return _norm_text(literal.value) if kind in _TEXTUAL else literal.value

    def _like(self, definition: FieldDef, getter: Getter, literal: Literal) -> Predicate:
        if definition.type not in _TEXTUAL and definition.type not in (
            FieldType.ID,
            FieldType.REFERENCE,
        ):
            raise self.error(
                literal.column,
                f"invalid operator on field '{definition.name}' for LIKE",
                "INVALID_FIELD",
            )
        if literal.kind != "string":
            raise self.error(literal.column, f"unexpected token: {literal.text}", "MALFORMED_QUERY")
        pattern = _like_regex(str(literal.value))
        return lambda r: (v := getter(r)) is not None and pattern.fullmatch(str(v)) is not None

    def _range(self, definition: FieldDef, getter: Getter, op: str, literal: Literal) -> Predicate:
        if definition.type not in (FieldType.DATE, FieldType.DATETIME):
            self._operand(definition, literal)  # raises the type error Salesforce gives
        name, n = literal.value
        first, last = date_range(name, n, self.catalog.today)
        low: Any = first
        high: Any = last
        if definition.type is FieldType.DATETIME:
            low = datetime.combine(first, time(), UTC)
            high = datetime.combine(last + timedelta(days=1), time(), UTC) - timedelta(
                microseconds=1
            )
        tests: dict[str, Callable[[Any], bool]] = {
            "=": lambda v: low <= v <= high,
            "!=": lambda v: not low <= v <= high,
            "<": lambda v: v < low,
            "<=": lambda v: v <= high,
            ">": lambda v: v > high,
            ">=": lambda v: v >= low,
        }
        test = tests[op]
        return lambda r: (v := getter(r)) is not None and test(v)

    def _semi_join(self, query: Query) -> set[Any]:
        inner = self.compile(query)
        if len(inner.selected) != 1 or inner.selected[0].type not in (
            FieldType.ID,
            FieldType.REFERENCE,
        ):
            raise self.error(
                query.object_column,
                "The selected field in a semi join subselect must be an Id or a reference",
                "MALFORMED_QUERY",
            )
        getter = _json_getter(inner.selected[0])
        rows = inner.rows(self.catalog.store.tables[inner.obj.name].values())
        return {getter(r) for r in rows}


def _field_part(getter: Getter) -> Callable[[Record, str], Any]:
    def render(record: Record, _version: str) -> Any:
        return getter(record)

    return render


def _json_getter(definition: FieldDef) -> Getter:
    name = definition.name
    if definition.type in (FieldType.DATE, FieldType.DATETIME):
        return lambda r: to_json(r.get(name))
    return operator.methodcaller("get", name)


def _normaliser(definition: FieldDef) -> Callable[[Any], Any]:
    if definition.type in _TEXTUAL:
        return _norm_text
    return lambda v: v


def _sort_getter(getter: Getter, definition: FieldDef) -> Getter:
    if definition.type in _TEXTUAL:
        return lambda r: _norm_text(getter(r))
    return getter


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
