"""The success-criteria checklist: the plain-text format reps edit by hand in the CRM.

One criterion per non-empty line, an optional leading ``- `` or ``* `` bullet, then an optional
``[ ]`` / ``[x]`` box (``[x]`` means met). Plain text is the format because it survives every
CRM's long-text field, copy-paste from email, and mobile editing; parsing is forgiving and
rendering canonical, so ``parse(render(c)) == c`` for any criteria a rep could have typed.
"""

from __future__ import annotations

import re

from servefirst.playbook.model import SuccessCriterion

_LINE = re.compile(r"^\s*(?:[-*](?:\s+|$))?(?:\[(?P<box>[ xX]?)\]\s*)?(?P<text>.*?)\s*$")


def parse_checklist(text: str | None) -> tuple[SuccessCriterion, ...]:
    """The criteria in a checklist text; blank lines and empty items are ignored."""
    if not text:
        return ()
    criteria = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:  # pragma: no cover - the pattern matches every line
            continue
        body = match.group("text")
        if not body:
            continue
        criteria.append(SuccessCriterion(text=body, met=(match.group("box") or "").lower() == "x"))
    return tuple(criteria)


def render_checklist(criteria: tuple[SuccessCriterion, ...] | list[SuccessCriterion]) -> str:
    """The canonical text of a checklist, one ``- [ ]`` / ``- [x]`` line per criterion."""
    return "\n".join(f"- [{'x' if c.met else ' '}] {_one_line(c.text)}" for c in criteria)


def _one_line(text: str) -> str:
    return " ".join(text.split())
