"""Turn pydantic validation errors into ``file:line: message`` lines a RevOps user can act on.

Pydantic knows *which key* is wrong; only the parser knows *where* it is. For YAML, ruamel keeps
line numbers on every mapping and sequence; TOML's standard parser keeps none, so a small
scanner finds the line of a ``[table]`` and ``key =`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servefirst.playbook.definition import LocatedError

Loc = tuple[str | int, ...]


#: Tags pydantic inserts into locations of discriminated unions; they are not keys.
UNION_TAGS = frozenset({"salesforce", "hubspot"})


def problems_from(exc: ValidationError) -> list[tuple[Loc, str]]:
    """Each problem of a validation error as (location, message), expanding LocatedError."""
    problems: list[tuple[Loc, str]] = []
    for err in exc.errors():
        loc: Loc = tuple(
            part
            for index, part in enumerate(err["loc"])
            if not (index == 2 and err["loc"][0] == "connections" and part in UNION_TAGS)
        )
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            problems.extend(((*loc, *sub), message) for sub, message in cause.problems)
            continue
        problems.append((loc, _message(err, loc)))
    return problems


def _message(err: Any, loc: Loc) -> str:
    key = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key {key!r}: check its spelling, or remove it"
    if kind == "missing":
        return f"missing required key {key!r}"
    text = str(err["msg"]).removeprefix("Value error, ")
    return f"{key}: {text}"


def yaml_line(root: Any, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node of ``loc`` that exists in a ruamel document."""
    line = 1
    node = root
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            elif isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def toml_line(text: str, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest key of ``loc`` found in TOML source (1 if none is found)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    best = 1
    table: list[str] = []
    best_depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if "=" not in raw else raw
        match = _TABLE.match(line)
        if match:
            table = [p.strip().strip("\"'") for p in match.group(1).split(".")]
            depth = _common(table, parts)
            if depth == len(table) and depth > best_depth:
                best, best_depth = number, depth
            continue
        key = _KEY.match(line)
        if key:
            path = table + [p.strip("\"'") for p in key.group(1).split(".")]
            depth = _common(path, parts)
            if depth == len(path) and depth > best_depth:
                best, best_depth = number, depth
    return best


def _common(path: list[str], parts: list[str]) -> int:
    depth = 0
    for a, b in zip(path, parts, strict=False):
        if a != b:
            break
        depth += 1
    return depth


def format_problem(path: Path, line: int, message: str) -> str:
    return f"{path}:{line}: {message}"
