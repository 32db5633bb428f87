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
class Compare:
    field: FieldRef
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Literal | tuple[Literal, ...] | Query


@dataclass(frozen=True)
class Logical:
    op: str  # AND, OR
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    inner: Condition


Condition = Compare | Logical | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    object_name: str
    object_column: int
    fields: list[FieldRef | Query] = field(default_factory=list)
    count: bool = False
    where: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
