"""The sandbox ASGI app: routes, the per-request pipeline, counters' endpoint names and the
replies to injected faults.

Every API request goes through the same pipeline: authenticate (401), count against the rate
limits (429 when on), check scopes (403), run the handler under the portal lock, render an
``ApiError`` as HubSpot's error body, and add the rate-limit headers to whatever is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.hubspot.sandbox import (
    routes_associations,
    routes_batch,
    routes_oauth,
    routes_objects,
    routes_owners,
    routes_pipelines,
    routes_properties,
    search,
)
from servefirst.connectors.hubspot.sandbox.auth import authenticate, require
from servefirst.connectors.hubspot.sandbox.errors import ApiError, rate_limit_body, validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Req
from servefirst.connectors.hubspot.sandbox.ratelimit import RateLimiter
from servefirst.connectors.hubspot.sandbox.schema import object_type
from servefirst.connectors.hubspot.sandbox.store import Portal
from servefirst.connectors.sandboxkit import Fault, FaultKind

#: Search and batch routes come before ``/{record_id}`` so they win the match.
ENDPOINTS: list[Endpoint] = [
    *search.ROUTES,
    *routes_batch.ROUTES,
    *routes_objects.ROUTES,
    *routes_properties.ROUTES,
    *routes_pipelines.ROUTES,
    *routes_associations.ROUTES,
    *routes_owners.ROUTES,
]

Result = tuple[int, Any, dict[str, str]]


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def handle(
    portal: Portal, limiter: RateLimiter, ep: Endpoint, request: Request, raw: bytes
) -> Result:
    """One request through auth, limits, scopes and the handler; never raises ApiError."""
    headers: dict[str, str] = {}
    try:
        granted = authenticate(portal, request.headers.get("authorization"))
        policy, headers = limiter.take(ep.search)
        if policy is not None:
            return 429, rate_limit_body(policy), headers
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            raise validation("Invalid input JSON on line 1: the body is not JSON") from None
        req = Req(portal, request.method, dict(request.path_params), request.query_params, body)
        require(granted, ep.scopes(req))
        with portal.lock:
            status, payload = ep.handler(req)
    except ApiError as error:
        status, payload = error.status, error.body()
    return status, payload, headers or limiter.headers()


def _route(
    portal: Portal, limiter: RateLimiter, ep: Endpoint
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        status, payload, headers = handle(portal, limiter, ep, request, raw)
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(_dumps(payload), status, headers, media_type="application/json")

    return endpoint


def build_app(portal: Portal, limiter: RateLimiter) -> Starlette:
    """The API routes; unknown paths and methods answer an empty 404/405 like HubSpot's edge,
    still with the rate-limit headers."""
    routes = [Route(ep.path, _route(portal, limiter, ep), methods=[ep.method]) for ep in ENDPOINTS]
    routes.append(routes_oauth.route(portal))

    async def no_route(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return Response(status_code=status, headers=limiter.headers())

    return Starlette(routes=routes, exception_handlers={404: no_route, 405: no_route})


_ENDPOINT_NAMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), name)
    for p, name in (
        (r"^/crm/v3/objects/([^/]+)/search$", "objects/{0}/search"),
        (r"^/crm/v3/objects/([^/]+)/batch/([^/]+)$", "objects/{0}/batch/{1}"),
        (r"^/crm/v3/objects/([^/]+)/[^/]+$", "objects/{0}/{{id}}"),
        (r"^/crm/v3/objects/([^/]+)/?$", "objects/{0}"),
        (
            r"^/crm/v4/objects/([^/]+)/[^/]+/associations/default/([^/]+)/[^/]+$",
            "objects/{0}/{{id}}/associations/default/{1}",
        ),
        (
            r"^/crm/v4/objects/([^/]+)/[^/]+/associations/([^/]+)(?:/[^/]+)?$",
            "objects/{0}/{{id}}/associations/{1}",
        ),
        (
            r"^/crm/v4/associations/([^/]+)/([^/]+)/labels(?:/[^/]+)?$",
            "associations/{0}/{1}/labels",
        ),
        (r"^/crm/v4/associations/([^/]+)/([^/]+)/batch/(.+)$", "associations/{0}/{1}/batch/{2}"),
        (r"^/crm/v3/properties/([^/]+)/groups(?:/[^/]+)?$", "properties/{0}/groups"),
        (r"^/crm/v3/properties/([^/]+)/batch/([^/]+)$", "properties/{0}/batch/{1}"),
        (r"^/crm/v3/properties/([^/]+)(?:/[^/]+)?$", "properties/{0}"),
        (r"^/crm/v3/pipelines/([^/]+)/[^/]+/stages(?:/[^/]+)?$", "pipelines/{0}/stages"),
        (r"^/crm/v3/pipelines/([^/]+)(?:/[^/]+)?$", "pipelines/{0}"),
        (r"^/crm/v3/owners/?$", "owners"),
        (r"^/crm/v3/owners/[^/]+$", "owners/{{id}}"),
    )
]


def _canonical(alias: str) -> str:
    try:
        return object_type(alias).name
    except ApiError:
        return alias


def classify(method: str, path: str) -> str:  # noqa: ARG001 - the kit passes both
    """The counter name of a request, e.g. ``objects/deals/search`` (``0-3`` counts as deals)."""
    for pattern, name in _ENDPOINT_NAMES:
        match = pattern.match(path)
        if match:
            groups = [g for g in match.groups() if g is not None]
            parts = [_canonical(g) if i < 2 else g for i, g in enumerate(groups)]
            return name.format(*parts)
    return path


_CATEGORIES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_AUTHENTICATION",
    403: "MISSING_SCOPES",
    404: "OBJECT_NOT_FOUND",
    409: "CONFLICT",
    423: "LOCKED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def make_responder(limiter: RateLimiter) -> Callable[[Fault], tuple[int, dict[str, str], bytes]]:
    """HubSpot's answer to an injected fault: an error body, or a 429 with limit headers."""

    def respond(fault: Fault) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": "application/json", **limiter.headers()}
        if fault.kind is FaultKind.LIMIT:
            body = rate_limit_body(fault.policy or "ten_secondly")
            key = {
                "DAILY": "X-HubSpot-RateLimit-Daily-Remaining",
                "SECONDLY": "X-HubSpot-RateLimit-Secondly-Remaining",
            }.get(body["policyName"], "X-HubSpot-RateLimit-Remaining")
            headers[key] = "0"
            return 429, headers, _dumps(body)
        category = _CATEGORIES.get(fault.status, "INTERNAL_ERROR")
        error = ApiError(fault.status, category, f"injected {fault.status} ({category})")
        return fault.status, headers, _dumps(error.body())

    return respond
