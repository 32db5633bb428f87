"""A small evaluator for validation-rule formulas (the shapes provisioning creates).

Supported: field references, string/number/TRUE/FALSE/NULL literals, ``= == != <> < <= > >=``,
``+ - &``, ``&& || !`` and the functions AND, OR, NOT, IF, ISBLANK, ISNULL, ISPICKVAL, TEXT,
BLANKVALUE, LEN, TODAY, ISNEW, ISCHANGED, PRIORVALUE. Formulas are compiled once, when the rule
is saved, so unknown functions and fields are reported then, in Salesforce's words
("Unknown function FOO. Check spelling."), and picklist fields are only accepted where
Salesforce accepts them (ISPICKVAL, ISBLANK, TEXT, ISCHANGED, PRIORVALUE).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from servefirst.connectors.salesforce.sandbox.schema import FieldType, ObjectDef


class FormulaError(ValueError):
    """The formula does not compile; the message is what Salesforce's editor would show."""


@dataclass(frozen=True)
class Context:
    new: dict[str, Any]
    old: dict[str, Any] | None
    today: date


Evaluator = Callable[[Context], Any]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_.$]*)|(?P<op>==|!=|<>|<=|>=|&&|\|\||[-+*/&=<>!(),]))"
)
_PICKLIST_OK = frozenset({"ISPICKVAL", "ISBLANK", "TEXT", "ISCHANGED", "PRIORVALUE"})


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FormulaError(f"Error: Syntax error. Found '{text[position:].split()[0]}'")
        kind = match.lastgroup or "op"
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        if op in ("=", "=="):
            return left is right
        if op in ("!=", "<>"):
            return left is not right
        return None
    try:
        return bool(_COMPARE[op](left, right))
    except TypeError:
        return None


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "&":
        return f"{left or ''}{right or ''}"
    if left is None or right is None:
        return None
    if isinstance(left, date) and isinstance(right, int | float):
        days = timedelta(days=right)
        return left + days if op == "+" else left - days
    if isinstance(left, date) and isinstance(right, date) and op == "-":
        return (left - right).days
    if op == "/" and not right:
        return None
    try:
        return _ARITH[op](left, right)
    except TypeError:
        return None


class _Parser:
    def __init__(self, text: str, obj: ObjectDef) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.obj = obj

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise FormulaError("Error: Syntax error. Missing ')'")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise FormulaError(f"Error: Syntax error. Found '{token[1]}'")
        self.position += 1
        return token

    def parse(self) -> Evaluator:
        result = self.expression()
        if self.position != len(self.tokens):
            raise FormulaError(f"Error: Syntax error. Extra '{self.tokens[self.position][1]}'")
        return result.evaluate

    def expression(self) -> _Node:
        return self._binary(0)

    _LEVELS: tuple[tuple[str, ...], ...] = (
        ("||",),
        ("&&",),
        ("=", "==", "!=", "<>", "<", "<=", ">", ">="),
        ("+", "-", "&"),
        ("*", "/"),
    )

    def _binary(self, level: int) -> _Node:
        if level == len(self._LEVELS):
            return self.unary()
        left = self._binary(level + 1)
        while self.peek() in self._LEVELS[level]:
            op = self.take()[1]
            right = self._binary(level + 1)
            left = _Node.binary(op, left.value(), right.value())
        return left

    def unary(self) -> _Node:
        if self.peek() == "!":
            self.take()
            inner = self.unary().value()
            return _Node(lambda c: not inner(c))
        if self.peek() == "-":
            self.take()
            inner = self.unary().value()
            return _Node(lambda c: None if (v := inner(c)) is None else -v)
        return self.primary()

    def primary(self) -> _Node:
        kind, text = self.take()
        if kind == "num":
            number = float(text) if "." in text else int(text)
            return _Node(lambda _c: number)
        if kind == "str":
            literal = re.sub(r"\\(.)", r"\1", text[1:-1])
            return _Node(lambda _c: literal)
        if text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name":
            raise FormulaError(f"Error: Syntax error. Found '{text}'")
        upper = text.upper()
        if self.peek() == "(":
            return self.call(upper, text)
        if upper in ("TRUE", "FALSE"):
            flag = upper == "TRUE"
            return _Node(lambda _c: flag)
        if upper == "NULL":
            return _Node(lambda _c: None)
        return self.field(text)

    def field(self, text: str) -> _Node:
        definition = self.obj.field(text)
        if definition is None:
            raise FormulaError(f"Error: Field {text} does not exist. Check spelling.")
        name = definition.name
        return _Node(
            lambda c: c.new.get(name), field=name, picklist=definition.type is FieldType.PICKLIST
        )

    def call(self, function: str, spelled: str) -> _Node:
        self.take("(")
        args: list[_Node] = []
        while self.peek() != ")":
            args.append(self.expression())
            if self.peek() == ",":
                self.take()
            elif self.peek() != ")":
                raise FormulaError(f"Error: Syntax error. Found '{self.peek()}'")
        self.take(")")
        builder = _FUNCTIONS.get(function)
        if builder is None:
            raise FormulaError(f"Error: Unknown function {spelled}. Check spelling.")
        arity, build = builder
        if arity >= 0 and len(args) != arity:
            raise FormulaError(
                f"Error: Incorrect number of parameters for function '{function}()'. "
                f"Expected {arity}, received {len(args)}"
            )
        for arg in args:
            if arg.picklist and function not in _PICKLIST_OK:
                raise FormulaError(
                    f"Error: Field {arg.field} is a picklist field. Picklist fields are only "
                    "supported in certain functions."
                )
        return _Node(build(args))


class _Node:
    """A compiled sub-expression; remembers if it is a bare picklist field reference."""

    def __init__(self, evaluate: Evaluator, field: str | None = None, picklist: bool = False):
        self.evaluate = evaluate
        self.field = field
        self.picklist = picklist

    def value(self) -> Evaluator:
        if self.picklist:
            raise FormulaError(
                f"Error: Field {self.field} is a picklist field. Picklist fields are only "
                "supported in certain functions."
            )
        return self.evaluate

    @staticmethod
    def binary(op: str, left: Evaluator, right: Evaluator) -> _Node:
        if op == "&&":
            return _Node(lambda c: bool(left(c)) and bool(right(c)))
        if op == "||":
            return _Node(lambda c: bool(left(c)) or bool(right(c)))
        if op in ("+", "-", "&", "*", "/"):
            return _Node(lambda c: _arith(op, left(c), right(c)))
        return _Node(lambda c: _compare(op, left(c), right(c)))


def _field_of(args: list[_Node], function: str) -> str:
    if args[0].field is None:
        raise FormulaError(f"Error: {function} requires a field reference as its first argument")
    return args[0].field


def _ispickval(args: list[_Node]) -> Evaluator:
    name = _field_of(args, "ISPICKVAL")
    if not args[0].picklist:
        raise FormulaError(
            f"Error: Field {name} may not be used in this type of formula "
            "(ISPICKVAL needs a picklist field)"
        )
    wanted = args[1].value()
    return lambda c: c.new.get(name) == wanted(c)


def _ischanged(args: list[_Node]) -> Evaluator:
    name = _field_of(args, "ISCHANGED")
    return lambda c: c.old is not None and c.old.get(name) != c.new.get(name)


def _priorvalue(args: list[_Node]) -> Evaluator:
    name = _field_of(args, "PRIORVALUE")
    return lambda c: (c.old or c.new).get(name)


def _if(args: list[_Node]) -> Evaluator:
    test, then, otherwise = (a.value() for a in args)
    return lambda c: then(c) if test(c) else otherwise(c)


def _all(args: list[_Node]) -> Evaluator:
    parts = [a.value() for a in args]
    return lambda c: all(bool(p(c)) for p in parts)


def _any(args: list[_Node]) -> Evaluator:
    parts = [a.value() for a in args]
    return lambda c: any(bool(p(c)) for p in parts)


def _text(args: list[_Node]) -> Evaluator:
    inner = args[0].evaluate
    return lambda c: "" if (v := inner(c)) is None else str(v)


def _unary(fn: Callable[[Any], Any]) -> Callable[[list[_Node]], Evaluator]:
    def build(args: list[_Node]) -> Evaluator:
        inner = args[0].evaluate if args[0].field else args[0].value()
        return lambda c: fn(inner(c))

    return build


def _not(args: list[_Node]) -> Evaluator:
    inner = args[0].value()
    return lambda c: not inner(c)


def _isnull(args: list[_Node]) -> Evaluator:
    inner = args[0].value()
    return lambda c: _blank(inner(c))


def _len(args: list[_Node]) -> Evaluator:
    inner = args[0].value()
    return lambda c: len(str(inner(c) or ""))


def _blankvalue(args: list[_Node]) -> Evaluator:
    first, second = args[0].value(), args[1].value()
    return lambda c: second(c) if _blank(v := first(c)) else v


_FUNCTIONS: dict[str, tuple[int, Callable[[list[_Node]], Evaluator]]] = {
    "AND": (-1, _all),
    "OR": (-1, _any),
    "NOT": (1, _not),
    "IF": (3, _if),
    "ISBLANK": (1, _unary(_blank)),
    "ISNULL": (1, _isnull),
    "ISPICKVAL": (2, _ispickval),
    "TEXT": (1, _text),
    "BLANKVALUE": (2, _blankvalue),
    "LEN": (1, _len),
    "TODAY": (0, lambda _a: lambda c: c.today),
    "ISNEW": (0, lambda _a: lambda c: c.old is None),
    "ISCHANGED": (1, _ischanged),
    "PRIORVALUE": (1, _priorvalue),
}


def compile_formula(text: str, obj: ObjectDef) -> Evaluator:
    """Compile an ``errorConditionFormula`` over ``obj``'s fields; raises FormulaError."""
    if not text or not text.strip():
        raise FormulaError("Error: You must enter a value")
    return _Parser(text, obj).parse()
