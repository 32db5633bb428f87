"""Aggregate SOQL: COUNT(field), COUNT_DISTINCT, MIN, MAX, SUM, AVG, GROUP BY and HAVING.

Rows come back as ``AggregateResult`` records: ``{"attributes": {"type": "AggregateResult"},
...}`` with a grouped field under its own name and each aggregate under its alias, or
``expr0``, ``expr1`` ... numbered over the unaliased aggregates in SELECT order. A query with
aggregates but no GROUP BY answers one row, even over no records (COUNT 0, the others null).
As on Salesforce, every plain field selected must be grouped, SUM and AVG need a number field,
and an aggregate query is not paged: more than 2,000 groups is an error.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from servefirst.connectors.salesforce.sandbox.errors import bad_request
from servefirst.connectors.salesforce.sandbox.schema import NUMBER_TYPES, FieldDef, FieldType
from servefirst.connectors.salesforce.sandbox.soql.compiled import Catalog, Getter
from servefirst.connectors.salesforce.sandbox.soql.compiler import Compiler
from servefirst.connectors.salesforce.sandbox.soql.nodes import (
    Aggregate,
    Condition,
    FieldRef,
    HavingCompare,
    Logical,
    Not,
    Query,
)
from servefirst.connectors.salesforce.sandbox.store import Record
from servefirst.connectors.salesforce.sandbox.values import to_json

MAX_GROUPS = 2000
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERABLE = NUMBER_TYPES | {
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.STRING,
    FieldType.PICKLIST,
    FieldType.ID,
    FieldType.REFERENCE,
    FieldType.EMAIL,
    FieldType.PHONE,
    FieldType.URL,
}
#: Fields Salesforce refuses to GROUP BY: long text and fractional numbers.
_UNGROUPABLE = frozenset(
    {FieldType.TEXTAREA, FieldType.COMPLEX, FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT}
)
#: One group's rows -> the aggregate's value.
Reducer = Callable[[list[Record]], Any]
Group = tuple[tuple[Any, ...], list[Record]]


def _reducer(function: str, getter: Getter) -> Reducer:
    def values(rows: list[Record]) -> list[Any]:
        return [v for v in map(getter, rows) if v is not None]

    if function == "COUNT":
        return lambda rows: len(values(rows))
    if function == "COUNT_DISTINCT":
        return lambda rows: len({_fold(v) for v in values(rows)})
    if function == "SUM":
        return lambda rows: sum(values(rows)) if values(rows) else None
    if function == "AVG":
        return lambda rows: sum(found) / len(found) if (found := values(rows)) else None
    pick = min if function == "MIN" else max
    return lambda rows: to_json(pick(found)) if (found := values(rows)) else None


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class AggregateQuery:
    """A compiled aggregate query: filter, group, reduce, HAVING, order, window, render."""

    def __init__(self, compiler: AggregateCompiler, query: Query) -> None:
        self.obj = compiler.object_of(query)
        self.predicate = compiler.where(self.obj, query)
        self.groups: list[tuple[str, Getter]] = []
        self.columns: list[tuple[str, Callable[[tuple[Any, ...], list[Record]], Any]]] = []
        self.having: Callable[[tuple[Any, ...], list[Record]], bool] | None = None
        self.order: list[tuple[Callable[[tuple[Any, ...], list[Record]], Any], bool, bool]] = []
        self.limit = query.limit
        self.offset = query.offset or 0
        self.grouped = bool(query.group_by)
        self.definitions: list[tuple[str, FieldDef | None, Aggregate | None]] = []
        compiler.build(self, query)

    def results(self, records: Iterable[Record], include_deleted: bool) -> list[dict[str, Any]]:
        predicate = self.predicate
        rows = [
            r
            for r in records
            if (include_deleted or not r.get("IsDeleted")) and (predicate is None or predicate(r))
        ]
        groups = self._group(rows)
        if self.having is not None:
            having = self.having
            groups = [g for g in groups if having(*g)]
        for key, descending, nulls_first in reversed(self.order):
            present = [g for g in groups if key(*g) is not None]
            nulls = [g for g in groups if key(*g) is None]
            present.sort(key=_sort_key(key), reverse=descending)
            groups = nulls + present if nulls_first else present + nulls
        end = None if self.limit is None else self.offset + self.limit
        groups = groups[self.offset : end]
        if len(groups) > MAX_GROUPS:
            raise bad_request(
                "MALFORMED_QUERY",
                "Aggregate query does not support queryMore(), use LIMIT to restrict the "
                "results to a single batch",
            )
        return [self._render(key, rows) for key, rows in groups]

    def _group(self, rows: list[Record]) -> list[Group]:
        if not self.grouped:
            return [((), rows)]
        getters = [getter for _, getter in self.groups]
        found: dict[tuple[Any, ...], list[Record]] = {}
        for row in rows:
            found.setdefault(tuple(_fold(g(row)) for g in getters), []).append(row)
        return [(tuple(g(members[0]) for g in getters), members) for members in found.values()]

    def _render(self, key: tuple[Any, ...], rows: list[Record]) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for name, value in self.columns:
            out[name] = value(key, rows)
        return out


class AggregateCompiler(Compiler):
    """Resolves an aggregate query's names and types with the plain compiler's rules."""

    def __init__(self, text: str, catalog: Catalog) -> None:
        super().__init__(text, catalog)
        self._unnamed = 0

    def compile_aggregate(self, query: Query) -> AggregateQuery:
        return AggregateQuery(self, query)

    def object_of(self, query: Query) -> Any:
        return self._object(query)

    def where(self, obj: Any, query: Query) -> Callable[[Record], bool] | None:
        return None if query.where is None else self._condition(obj, query.where)

    def build(self, target: AggregateQuery, query: Query) -> None:
        obj = target.obj
        grouped: dict[str, int] = {}
        for index, ref in enumerate(query.group_by):
            getter, definition = self._path(obj, ref)
            if definition.type in _UNGROUPABLE:
                raise self.error(
                    ref.column,
                    f"field '{definition.name}' can not be grouped in a query call",
                    "MALFORMED_QUERY",
                )
            grouped[ref.path.casefold()] = index
            target.groups.append((definition.name, getter))
        for item in query.fields:
            if isinstance(item, Query):
                raise self.error(
                    item.object_column,
                    "Nested queries are not supported in aggregate queries",
                    "MALFORMED_QUERY",
                )
            if isinstance(item, FieldRef):
                index = self._grouped(item, grouped)
                _, definition = self._path(obj, item)
                target.columns.append((definition.name, _key_part(index)))
                target.definitions.append((definition.name, definition, None))
            else:
                name = item.alias or self._expr()
                reducer, definition = self._aggregate(obj, item)
                target.columns.append((name, _reduce_part(reducer)))
                target.definitions.append((name, definition, item))
        if query.having is not None:
            target.having = self._having(obj, query.having, grouped)
        for order in query.order:
            key = self._group_value(obj, order.field, grouped)
            target.order.append((key, order.descending, order.nulls_first))

    def _expr(self) -> str:
        name = f"expr{self._unnamed}"
        self._unnamed += 1
        return name

    def _grouped(self, ref: FieldRef, grouped: dict[str, int]) -> int:
        index = grouped.get(ref.path.casefold())
        if index is None:
            raise self.error(
                ref.column, f"Field must be grouped or aggregated: {ref.path}", "MALFORMED_QUERY"
            )
        return index

    def _aggregate(self, obj: Any, item: Aggregate) -> tuple[Reducer, FieldDef]:
        getter, definition = self._path(obj, item.field)
        numeric = definition.type in NUMBER_TYPES
        if (item.function in ("SUM", "AVG") and not numeric) or (
            item.function in ("MIN", "MAX") and definition.type not in _ORDERABLE
        ):
            raise self.error(
                item.field.column,
                f"field {definition.name} does not support aggregate operator {item.function}",
                "MALFORMED_QUERY",
            )
        return _reducer(item.function, getter), definition

    def _group_value(
        self, obj: Any, target: Aggregate | FieldRef, grouped: dict[str, int]
    ) -> Callable[[tuple[Any, ...], list[Record]], Any]:
        if isinstance(target, FieldRef):
            return _key_part(self._grouped(target, grouped))
        reducer, _ = self._aggregate(obj, target)
        return _reduce_part(reducer)

    def _having(
        self, obj: Any, condition: Condition, grouped: dict[str, int]
    ) -> Callable[[tuple[Any, ...], list[Record]], bool]:
        if isinstance(condition, Not):
            inner = self._having(obj, condition.inner, grouped)
            return lambda k, rows: not inner(k, rows)
        if isinstance(condition, Logical):
            parts = [self._having(obj, p, grouped) for p in condition.parts]
            combine = all if condition.op == "AND" else any
            return lambda k, rows: combine(p(k, rows) for p in parts)
        if not isinstance(condition, HavingCompare):
            raise self.error(1, "HAVING compares aggregates or grouped fields", "MALFORMED_QUERY")
        value = self._group_value(obj, condition.target, grouped)
        literal = condition.value
        if literal.kind not in ("number", "string", "date", "datetime", "boolean", "null"):
            raise self.error(literal.column, f"unexpected token: {literal.text}", "MALFORMED_QUERY")
        operand = to_json(literal.value)
        op = _OPS[condition.op]
        if operand is None:
            wants_null = condition.op == "="
            return lambda k, rows: (value(k, rows) is None) == wants_null
        folded = _fold(operand)
        return lambda k, rows: (v := value(k, rows)) is not None and op(_fold(v), folded)


def _sort_key(key: Callable[[tuple[Any, ...], list[Record]], Any]) -> Callable[[Group], Any]:
    return lambda group: _fold(key(*group))


def _reduce_part(reducer: Reducer) -> Callable[[tuple[Any, ...], list[Record]], Any]:
    return lambda _key, rows: reducer(rows)


def _key_part(index: int) -> Callable[[tuple[Any, ...], list[Record]], Any]:
    return lambda key, _rows: to_json(key[index])
