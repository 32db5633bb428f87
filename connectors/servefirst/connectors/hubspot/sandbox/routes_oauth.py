"""HubSpot's private-app token introspection: which portal and scopes a token has.

``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": "<token>"}`` answers
``{"userId", "hubId", "appId", "scopes"}``. The token travels in the body, so this route sits
outside the bearer-authenticated pipeline of the CRM routes; ``servefirst doctor`` uses it to
name each scope a private app lacks.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.hubspot.sandbox.errors import ApiError
from servefirst.connectors.hubspot.sandbox.store import Portal

PATH = "/oauth/v2/private-apps/get/access-token-info"
HUB_ID = 62515
APP_ID = 1234567
USER_ID = 3141592


def route(portal: Portal) -> Route:
    """The introspection route for this portal's tokens."""

    async def token_info(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            key = str(body["tokenKey"]) if isinstance(body, dict) else ""
        except (ValueError, KeyError):
            key = ""
        with portal.lock:
            entry = portal.tokens.get(key)
        if not key or entry is None:
            error = ApiError(404, "OBJECT_NOT_FOUND", "Token not found")
            return Response(json.dumps(error.body()), 404, media_type="application/json")
        scopes, _expired = entry
        payload = {"userId": USER_ID, "hubId": HUB_ID, "appId": APP_ID, "scopes": sorted(scopes)}
        return Response(json.dumps(payload), 200, media_type="application/json")

    return Route(PATH, token_info, methods=["POST"])
