"""SOQL tokens with their 1-based column, so errors point where Salesforce's point."""

from __future__ import annotations

import re
from dataclasses import dataclass

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request

_PATTERN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|[=<>(),:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "%": "\\%", "_": "\\_"}


@dataclass(frozen=True)
class Token:
    kind: str  # datetime, date, number, string, name, op, end
    text: str
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def query_error(query: str, column: int, message: str, code: str = "MALFORMED_QUERY") -> SfError:
    """An error in Salesforce's layout: the query, a caret, Row/Column, then the message."""
    return bad_request(
        code, f"\n{query}\n{' ' * max(column - 1, 0)}^\nERROR at Row:1:Column:{column}\n{message}"
    )


def unescape(literal: str) -> str:
    """The value of a quoted SOQL string (backslash escapes as format_soql writes them).

    ``\\%`` and ``\\_`` stay escaped: they only mean something to LIKE, which reads them.
    """
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(query):
        match = _PATTERN.match(query, position)
        if match is None:
            raise query_error(query, position + 1, f"unexpected token: {query[position]}")
        kind = match.lastgroup or "op"
        if kind != "space":
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(Token("end", "<EOF>", len(query) + 1))
    return tokens
