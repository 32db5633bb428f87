"""A recursive-descent parser for the SOQL subset the sandbox serves.

Like Salesforce, it refuses ``a AND b OR c`` without parentheses ("unexpected token: OR"),
so ambiguous filters built by connector code fail here first.
"""

from __future__ import annotations

from datetime import date

from servefirst.connectors.salesforce.sandbox.errors import SfError
from servefirst.connectors.salesforce.sandbox.soql.lexer import (
    Token,
    query_error,
    tokenize,
    unescape,
)
from servefirst.connectors.salesforce.sandbox.soql.nodes import (
    Aggregate,
    Compare,
    Condition,
    FieldRef,
    HavingCompare,
    Literal,
    Logical,
    Not,
    OrderItem,
    Query,
)
from servefirst.connectors.salesforce.sandbox.values import parse_datetime

_COMPARISONS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})
AGGREGATES = frozenset({"COUNT", "COUNT_DISTINCT", "MIN", "MAX", "SUM", "AVG"})
#: Words that end a SELECT item, so they can never be an alias.
_CLAUSES = frozenset({"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET"})
#: Date literals: a range of days, computed at compile time from "today".
DATE_LITERALS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "THIS_WEEK",
        "LAST_WEEK",
        "NEXT_WEEK",
        "THIS_MONTH",
        "LAST_MONTH",
        "NEXT_MONTH",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
    }
)
N_DATE_LITERALS = frozenset(
    {"LAST_N_DAYS", "NEXT_N_DAYS", "LAST_N_WEEKS", "NEXT_N_WEEKS", "LAST_N_MONTHS", "NEXT_N_MONTHS"}
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.position = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.position]

    def error(self, token: Token | None = None, message: str | None = None) -> SfError:
        token = token or self.current
        return query_error(self.text, token.column, message or f"unexpected token: {token.text}")

    def advance(self) -> Token:
        token = self.current
        if token.kind != "end":
            self.position += 1
        return token

    def at(self, *words: str) -> bool:
        return self.current.kind in ("name", "op") and self.current.upper in words

    def expect(self, word: str) -> Token:
        if not self.at(word):
            raise self.error()
        return self.advance()

    def query(self, nested: bool = False) -> Query:
        self.expect("SELECT")
        fields, count = self.select_list()
        self.expect("FROM")
        name = self.advance()
        if name.kind != "name":
            raise self.error(name)
        query = Query(name.text, name.column, fields, count)
        if count and fields:
            raise self.error(name, "COUNT() may not be used with other fields")
        self.clauses(query)
        if not nested and self.current.kind != "end":
            raise self.error()
        return query

    def select_list(self) -> tuple[list[FieldRef | Query | Aggregate], bool]:
        """The SELECT items, and whether the list is ``COUNT()``."""
        fields: list[FieldRef | Query | Aggregate] = []
        count = False
        while True:
            if self.at("("):
                self.advance()
                fields.append(self.query(nested=True))
                self.expect(")")
            elif self.at("COUNT") and self._next_is("(") and self._after_next_is(")"):
                self.advance()
                self.advance()
                self.expect(")")
                count = True
            elif self._at_aggregate():
                found = self.aggregate()
                alias = None
                if self.current.kind == "name" and self.current.upper not in _CLAUSES:
                    alias = self.advance().text
                fields.append(Aggregate(found.function, found.field, found.column, alias))
            else:
                fields.append(self.field())
            if not self.at(","):
                return fields, count
            self.advance()

    def clauses(self, query: Query) -> None:
        """WHERE, GROUP BY, HAVING, ORDER BY, LIMIT and OFFSET, in SOQL's order."""
        if self.at("WHERE"):
            self.advance()
            query.where = self.condition()
        if self.at("GROUP"):
            self.advance()
            self.expect("BY")
            query.group_by = [self.field()]
            while self.at(","):
                self.advance()
                query.group_by.append(self.field())
        if self.at("HAVING"):
            self.advance()
            query.having = self.condition(having=True)
        if self.at("ORDER"):
            self.advance()
            self.expect("BY")
            query.order = self.order()
        if self.at("LIMIT"):
            self.advance()
            query.limit = self.integer()
        if self.at("OFFSET"):
            self.advance()
            query.offset = self.integer()

    def _next_is(self, text: str) -> bool:
        return self.tokens[min(self.position + 1, len(self.tokens) - 1)].text == text

    def _after_next_is(self, text: str) -> bool:
        return self.tokens[min(self.position + 2, len(self.tokens) - 1)].text == text

    def _at_aggregate(self) -> bool:
        return (
            self.current.kind == "name" and self.current.upper in AGGREGATES and self._next_is("(")
        )

    def aggregate(self) -> Aggregate:
        """``FUNCTION(field)``, e.g. ``COUNT_DISTINCT(AccountId)``."""
        name = self.advance()
        self.expect("(")
        field = self.field()
        self.expect(")")
        return Aggregate(name.upper, field, name.column)

    def field(self) -> FieldRef:
        token = self.advance()
        if token.kind != "name" or token.upper in ("FROM", "WHERE", "SELECT"):
            raise self.error(token)
        return FieldRef(token.text, token.column)

    def integer(self) -> int:
        token = self.advance()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(token)
        return int(token.text)

    def order(self) -> list[OrderItem]:
        items = []
        while True:
            field: FieldRef | Aggregate = self.aggregate() if self._at_aggregate() else self.field()
            descending = False
            if self.at("ASC", "DESC"):
                descending = self.advance().upper == "DESC"
            nulls_first = not descending
            if self.at("NULLS"):
                self.advance()
                if not self.at("FIRST", "LAST"):
                    raise self.error()
                nulls_first = self.advance().upper == "FIRST"
            items.append(OrderItem(field, descending, nulls_first))
            if not self.at(","):
                return items
            self.advance()

    def condition(self, *, having: bool = False) -> Condition:
        first = self.unary(having)
        if not self.at("AND", "OR"):
            return first
        op = self.current.upper
        parts = [first]
        while self.at("AND", "OR"):
            if self.current.upper != op:
                raise self.error()
            self.advance()
            parts.append(self.unary(having))
        return Logical(op, tuple(parts))

    def unary(self, having: bool = False) -> Condition:
        if self.at("NOT"):
            self.advance()
            return Not(self.unary(having))
        if self.at("("):
            self.advance()
            inner = self.condition(having=having)
            self.expect(")")
            return inner
        return self.having_comparison() if having else self.comparison()

    def having_comparison(self) -> Condition:
        """``COUNT(Id) > 1`` or ``StageName = 'x'`` (a grouped field) in HAVING."""
        target: Aggregate | FieldRef = self.aggregate() if self._at_aggregate() else self.field()
        if self.current.kind == "op" and self.current.text in _COMPARISONS:
            op = self.advance().text
            return HavingCompare(target, "!=" if op == "<>" else op, self.literal())
        raise self.error()

    def comparison(self) -> Condition:
        field = self.field()
        if self.at("LIKE"):
            self.advance()
            return Compare(field, "LIKE", self.literal())
        if self.at("NOT") and self.tokens[self.position + 1].upper == "IN":
            self.advance()
            self.advance()
            return Compare(field, "NOT IN", self.in_list())
        if self.at("IN"):
            self.advance()
            return Compare(field, "IN", self.in_list())
        if self.current.kind == "op" and self.current.text in _COMPARISONS:
            op = self.advance().text
            return Compare(field, "!=" if op == "<>" else op, self.literal())
        raise self.error()

    def in_list(self) -> tuple[Literal, ...] | Query:
        self.expect("(")
        if self.at("SELECT"):
            inner = self.query(nested=True)
            self.expect(")")
            return inner
        values = [self.literal()]
        while self.at(","):
            self.advance()
            values.append(self.literal())
        self.expect(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.advance()
        column, text = token.column, token.text
        if token.kind == "string":
            return Literal("string", unescape(text), column, text)
        if token.kind == "number":
            return Literal("number", float(text), column, text)
        if token.kind == "date":
            try:
                return Literal("date", date.fromisoformat(text), column, text)
            except ValueError:
                raise self.error(token) from None
        if token.kind == "datetime":
            try:
                return Literal("datetime", parse_datetime(text), column, text)
            except SfError:
                raise self.error(token) from None
        if token.kind == "name":
            upper = token.upper
            if upper in ("TRUE", "FALSE"):
                return Literal("boolean", upper == "TRUE", column, text)
            if upper == "NULL":
                return Literal("null", None, column, text)
            if upper in DATE_LITERALS:
                return Literal("range", (upper, 0), column, text)
            if upper in N_DATE_LITERALS and self.at(":"):
                self.advance()
                return Literal("range", (upper, self.integer()), column, text)
        raise self.error(token)


def parse(text: str) -> Query:
    """Parse one SOQL query; raises SfError(400, MALFORMED_QUERY) with Salesforce's layout."""
    return _Parser(text.strip()).query()
