"""The request/response seam between the Starlette app and the route modules.

Route handlers are plain synchronous functions ``(Req) -> (status, body)`` registered in
per-module ``ROUTES`` tables; the app wraps each one with auth, scopes, rate limits and error
rendering, so no handler can forget one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from servefirst.connectors.hubspot.sandbox.errors import validation
from servefirst.connectors.hubspot.sandbox.schema import ObjectType, object_type
from servefirst.connectors.hubspot.sandbox.store import Portal

Reply = tuple[int, Any]


@dataclass
class Req:
    """One API request, parsed."""

    portal: Portal
    method: str
    path: dict[str, str]
    query: QueryParams
    body: Any

    def object_type(self, key: str = "object_type") -> ObjectType:
        return object_type(self.path[key])

    def q_list(self, name: str) -> list[str] | None:
        """A list parameter, repeated (``a=1&a=2``, as the client sends) or comma-separated."""
        raw = self.query.getlist(name)
        if not raw:
            return None
        return [part for item in raw for part in item.split(",") if part]

    def q_int(self, name: str, default: int, maximum: int) -> int:
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise validation(f"{name} must be an integer, got {raw!r}") from None
        if not 1 <= value <= maximum:
            raise validation(f"{name} must be between 1 and {maximum}, got {value}")
        return value

    def q_bool(self, name: str) -> bool:
        return (self.query.get(name) or "false").lower() == "true"

    def json_obj(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise validation("the request body must be a JSON object")
        return self.body

    def inputs(self, limit: int) -> list[Any]:
        """A batch body's ``inputs``: at most ``limit`` (HubSpot answers 400 past it)."""
        inputs = self.json_obj().get("inputs")
        if not isinstance(inputs, list):
            raise validation("`inputs` must be a list")
        if len(inputs) > limit:
            raise validation(
                f"Too many inputs: {len(inputs)}; a batch takes at most {limit}.",
                inputs=[str(len(inputs))],
            )
        return inputs


Handler = Callable[[Req], Reply]
#: The scopes a request needs: every group must be met, each by any one of its scopes (HubSpot's
#: specs list alternatives, e.g. a property read takes the object's read or its schema read).
ScopeGroups = tuple[tuple[str, ...], ...]
Scopes = Callable[[Req], ScopeGroups]


@dataclass(frozen=True)
class Endpoint:
    """One route: path template, method, handler and the scopes it needs."""

    path: str
    method: str
    handler: Handler
    scopes: Scopes
    search: bool = False


def _family(object_name: str) -> str:
    """The scope family of an object type (tasks and notes use the contacts scopes)."""
    return object_type(object_name).scope.removeprefix("crm.objects.")


def object_scopes(action: str) -> Scopes:
    """``crm.objects.<family>.read|write`` of the path's object type."""

    def scopes(req: Req) -> ScopeGroups:
        return ((f"crm.objects.{_family(req.path['object_type'])}.{action}",),)

    return scopes


def schema_scopes(action: str) -> Scopes:
    """Schema reads take the object's read or write scope or the schema read scope; schema
    writes need ``crm.schemas.<family>.write``."""

    def scopes(req: Req) -> ScopeGroups:
        family = _family(req.path["object_type"])
        if action == "write":
            return ((f"crm.schemas.{family}.write",),)
        return (
            (
                f"crm.objects.{family}.read",
                f"crm.objects.{family}.write",
                f"crm.schemas.{family}.read",
            ),
        )

    return scopes


def pair_scopes(action: str) -> Scopes:
    """Associations need the scope on both object types."""

    def scopes(req: Req) -> ScopeGroups:
        return tuple(
            (f"crm.objects.{_family(req.path[key])}.{action}",)
            for key in ("object_type", "to_object_type")
        )

    return scopes


def fixed_scopes(*names: str) -> Scopes:
    def scopes(req: Req) -> ScopeGroups:  # noqa: ARG001 - same shape as the others
        return (names,)

    return scopes
