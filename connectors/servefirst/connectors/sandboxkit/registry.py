"""The table of ``/__sandbox__/`` admin endpoints, which ``GET /__sandbox__/`` lists.

Every admin endpoint, shared or CRM-specific, is registered here with a one-line summary and
the shape of its JSON body, so the listing is always the truth: an endpoint cannot be served
without appearing in it, and a test or script can discover the knobs and faults a sandbox
offers instead of reading its source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Answers one admin call from its JSON body (``{}`` when there is none).
AdminHandler = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class AdminEndpoint:
    """One admin endpoint: where it is, what it does and what its body holds."""

    method: str
    path: str
    summary: str
    handler: AdminHandler = field(repr=False, compare=False)
    body: str = ""

    def describe(self, prefix: str) -> dict[str, str]:
        return {
            "method": self.method,
            "path": prefix + self.path,
            "summary": self.summary,
            "body": self.body,
        }


class AdminRegistry:
    """Admin endpoints by (method, path); paths are relative to ``/__sandbox__``."""

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], AdminEndpoint] = {}

    def add(
        self, method: str, path: str, summary: str, handler: AdminHandler, *, body: str = ""
    ) -> None:
        """Register an endpoint; registering the same method and path twice is a bug."""
        key = (method.upper(), _normal(path))
        if key in self._endpoints:
            raise ValueError(f"admin endpoint {key[0]} {key[1]} is registered twice")
        self._endpoints[key] = AdminEndpoint(key[0], key[1], summary, handler, body)

    def endpoint(
        self, method: str, path: str, summary: str, *, body: str = ""
    ) -> Callable[[AdminHandler], AdminHandler]:
        """Decorator form of :meth:`add`."""

        def register(handler: AdminHandler) -> AdminHandler:
            self.add(method, path, summary, handler, body=body)
            return handler

        return register

    def find(self, method: str, path: str) -> AdminEndpoint | None:
        return self._endpoints.get((method.upper(), _normal(path)))

    def describe(self, prefix: str) -> list[dict[str, str]]:
        """Every endpoint, sorted by path then method, for the listing."""
        ordered = sorted(self._endpoints.values(), key=lambda e: (e.path, e.method))
        return [e.describe(prefix) for e in ordered]


def _normal(path: str) -> str:
    return "/" + path.strip("/")
