"""``query?q=...&columns=true``: what a query's columns are, without running it.

Real orgs answer ``{"columnMetadata": [...], "entityName", "groupBy", "idSelected",
"keyPrefix"}``; each column names its field (``columnName``, ``displayName``), its Apex type,
whether it is an aggregate, custom, insertable or updatable, and, for a parent path or a child
subquery, the columns under it in ``joinColumns`` (a parent path also names its lookup field in
``foreignKeyName``: ``Owner`` has ``OwnerId``). A child subquery's column is marked
``aggregate`` (it holds many records), which is how a parent path (``Account.Name``) and a
subquery (``(SELECT Name FROM Opportunities)``), both with ``joinColumns``, tell apart. Tools
that print query results as tables (the Salesforce CLI's ``data query``) read it to lay out
their columns.
"""

from __future__ import annotations

from typing import Any

from servefirst.connectors.salesforce.sandbox.schema import NUMBER_TYPES, FieldDef, FieldType
from servefirst.connectors.salesforce.sandbox.soql.compiler import Compiler
from servefirst.connectors.salesforce.sandbox.soql.nodes import Aggregate, FieldRef, Query

_APEX_TYPES = {
    FieldType.ID: "Id",
    FieldType.REFERENCE: "Id",
    FieldType.BOOLEAN: "Boolean",
    FieldType.DOUBLE: "Double",
    FieldType.CURRENCY: "Decimal",
    FieldType.PERCENT: "Double",
    FieldType.INT: "Integer",
    FieldType.DATE: "Date",
    FieldType.DATETIME: "Datetime",
    FieldType.COMPLEX: "Object",
}
_AGGREGATE_TYPES = {"COUNT": "Integer", "COUNT_DISTINCT": "Integer", "AVG": "Double"}


def _column(
    name: str,
    display: str,
    *,
    apex: str | None,
    definition: FieldDef | None = None,
    aggregate: bool = False,
    joins: list[dict[str, Any]] | None = None,
    foreign_key: str | None = None,
) -> dict[str, Any]:
    kind = definition.type if definition is not None else None
    return {
        "aggregate": aggregate,
        "apexType": apex,
        "booleanType": kind is FieldType.BOOLEAN,
        "columnName": name,
        "custom": definition is not None and definition.custom,
        "displayName": display,
        "foreignKeyName": foreign_key,
        "insertable": definition is not None and definition.createable and not aggregate,
        "joinColumns": joins or [],
        "numberType": kind in NUMBER_TYPES or apex in ("Integer", "Double"),
        "textType": kind is not None and _APEX_TYPES.get(kind) is None,
        "updatable": definition is not None and definition.updateable and not aggregate,
    }


def _field_column(definition: FieldDef) -> dict[str, Any]:
    apex = _APEX_TYPES.get(definition.type, "String")
    return _column(definition.name, definition.name, apex=apex, definition=definition)


class ColumnCompiler(Compiler):
    """Resolves a parsed query's SELECT list into Salesforce's column metadata."""

    def describe(self, query: Query) -> dict[str, Any]:
        obj = self._object(query)
        columns: list[dict[str, Any]] = []
        unnamed = 0
        for item in query.fields:
            if isinstance(item, Aggregate):
                name = item.alias
                if name is None:
                    name, unnamed = f"expr{unnamed}", unnamed + 1
                _, definition, _ = self._hops(obj, item.field)
                apex = _AGGREGATE_TYPES.get(item.function) or _APEX_TYPES.get(
                    definition.type, "String"
                )
                display = f"{item.function}({item.field.path})"
                columns.append(_column(name, display, apex=apex, aggregate=True))
            elif isinstance(item, Query):
                relation = obj.child(item.object_name)
                if relation is None:
                    self.compile(query)  # raises Salesforce's error for the bad relationship
                    continue
                child = self.catalog.store.object(relation.child)
                joins: list[dict[str, Any]] = []
                for field in item.fields:
                    if isinstance(field, FieldRef):
                        _merge(joins, self._path_column(child, field))
                columns.append(
                    _column(relation.name, relation.name, apex=None, joins=joins, aggregate=True)
                )
            else:
                _merge(columns, self._path_column(obj, item))
        selected = {c["columnName"] for c in columns}
        return {
            "columnMetadata": columns,
            "entityName": "AggregateResult" if query.aggregate else obj.name,
            "groupBy": bool(query.group_by),
            "idSelected": "Id" in selected,
            "keyPrefix": None if query.aggregate else obj.key_prefix,
        }

    def _path_column(self, obj: Any, ref: FieldRef) -> dict[str, Any]:
        hops, definition, _ = self._hops(obj, ref)
        column = _field_column(definition)
        for lookup, _targets in reversed(hops):
            name = lookup.relationship_name or lookup.name
            column = _column(name, name, apex=None, joins=[column], foreign_key=lookup.name)
        return column


def _merge(columns: list[dict[str, Any]], column: dict[str, Any]) -> None:
    """Add a column; paths through the same lookup share one column (``Owner``: Name, Email)."""
    for existing in columns:
        if existing["columnName"] == column["columnName"] and existing["joinColumns"]:
            for join in column["joinColumns"]:
                _merge(existing["joinColumns"], join)
            return
    columns.append(column)
