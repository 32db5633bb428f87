"""The parsed shape of a SOQL query; names are kept as written until compiled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldRef:
    path: str  # as written, e.g. "Owner.Email"
    column: int


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, range
    value: Any
    column: int
    text: str


@dataclass(frozen=True)
class Aggregate:
    """An aggregate function in SELECT, HAVING or ORDER BY: ``SUM(Amount) total``."""

    function: str  # COUNT, COUNT_DISTINCT, MIN, MAX, SUM, AVG
    field: FieldRef
    column: int
    alias: str | None = None


@dataclass(frozen=True)
class Compare:
    field: FieldRef
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Literal | tuple[Literal, ...] | Query


@dataclass(frozen=True)
class HavingCompare:
    """A HAVING comparison: an aggregate (or a grouped field) against a literal."""

    target: Aggregate | FieldRef
    op: str  # = != < <= > >=
    value: Literal


@dataclass(frozen=True)
class Logical:
    op: str  # AND, OR
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    inner: Condition


Condition = Compare | HavingCompare | Logical | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef | Aggregate
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    object_name: str
    object_column: int
    fields: list[FieldRef | Query | Aggregate] = field(default_factory=list)
    count: bool = False
    where: Condition | None = None
    group_by: list[FieldRef] = field(default_factory=list)
    having: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def aggregate(self) -> bool:
        """An aggregate query: aggregate functions or GROUP BY (rows are AggregateResults)."""
        return bool(self.group_by) or any(isinstance(f, Aggregate) for f in self.fields)
