"""Who a token belongs to: the identity URL (``/id/<org>/<user>``) and OAuth's ``userinfo``.

The token reply's ``id`` is the identity URL; clients (jsforce's ``identity()``, the Salesforce
CLI's ``org login access-token``, servefirst's own provisioning) GET it, or the OpenID Connect
``/services/oauth2/userinfo``, with the bearer token to learn the user and org. Both answer
403 ``Bad_OAuth_Token`` for an unknown or expired token; the identity URL of another user of
the org answers too, with ``asserted_user`` false, and 404 for an unknown user or org.
Neither is charged against the daily API budget.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.http import respond
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.org import ORG_ID, Org
from servefirst.connectors.salesforce.sandbox.values import format_datetime

ORG_ID_18 = to18(ORG_ID) or ORG_ID


def identity_url(org: Org, user_id: str) -> str:
    """The identity URL of a user, as the token reply's ``id`` and the resources list give it."""
    return f"{org.instance_url}/id/{ORG_ID_18}/{user_id}"


def _urls(org: Org, user_id: str) -> dict[str, str]:
    base = org.instance_url
    data = f"{base}/services/data/v{{version}}"
    return {
        "enterprise": f"{base}/services/Soap/c/{{version}}/{ORG_ID_18}",
        "metadata": f"{base}/services/Soap/m/{{version}}/{ORG_ID_18}",
        "partner": f"{base}/services/Soap/u/{{version}}/{ORG_ID_18}",
        "rest": f"{data}/",
        "sobjects": f"{data}/sobjects/",
        "search": f"{data}/search/",
        "query": f"{data}/query/",
        "recent": f"{data}/recent/",
        "tooling_soap": f"{base}/services/Soap/T/{{version}}/{ORG_ID_18}",
        "tooling_rest": f"{data}/tooling/",
        "profile": f"{base}/{user_id}",
        "feeds": f"{data}/chatter/feeds",
        "groups": f"{data}/chatter/groups",
        "users": f"{data}/chatter/users",
        "feed_items": f"{data}/chatter/feed-items",
        "feed_elements": f"{data}/chatter/feed-elements",
        "custom_domain": base,
    }


def _user(org: Org, request: Request) -> dict[str, Any] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip() if scheme.lower() in ("bearer", "oauth") else ""
    token = token or request.query_params.get("oauth_token", "")
    user_id = org.tokens.user(token) if token else None
    return None if user_id is None else org.store.tables["User"].get(user_id)


def _identity(org: Org, user: dict[str, Any], caller: str) -> dict[str, Any]:
    user_id = str(user["Id"])
    return {
        "id": identity_url(org, user_id),
        "asserted_user": user_id == caller,
        "user_id": user_id,
        "organization_id": ORG_ID_18,
        "username": user.get("Username"),
        "nick_name": user.get("Alias"),
        "display_name": user.get("Name"),
        "email": user.get("Email"),
        "email_verified": True,
        "first_name": user.get("FirstName"),
        "last_name": user.get("LastName"),
        "timezone": "GMT",
        "photos": {"picture": None, "thumbnail": None},
        "addr_street": None,
        "addr_city": None,
        "addr_state": None,
        "addr_country": None,
        "addr_zip": None,
        "mobile_phone": None,
        "mobile_phone_verified": False,
        "is_lightning_login_user": False,
        "status": {"created_date": None, "body": None},
        "urls": _urls(org, user_id),
        "active": bool(user.get("IsActive")),
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "last_modified_date": format_datetime(user["LastModifiedDate"]),
        "is_app_installed": True,
    }


def _userinfo(org: Org, user: dict[str, Any]) -> dict[str, Any]:
    user_id = str(user["Id"])
    return {
        "sub": identity_url(org, user_id),
        "user_id": user_id,
        "organization_id": ORG_ID_18,
        "preferred_username": user.get("Username"),
        "nickname": user.get("Alias"),
        "name": user.get("Name"),
        "email": user.get("Email"),
        "email_verified": True,
        "given_name": user.get("FirstName"),
        "family_name": user.get("LastName"),
        "zoneinfo": "GMT",
        "photos": {"picture": None, "thumbnail": None},
        "profile": f"{org.instance_url}/{user_id}",
        "picture": None,
        "address": {},
        "is_salesforce_integration_user": False,
        "urls": _urls(org, user_id),
        "active": bool(user.get("IsActive")),
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "updated_at": format_datetime(user["LastModifiedDate"]),
        "is_app_installed": True,
    }


def _bad_token() -> Response:
    return Response("Bad_OAuth_Token", 403, media_type="text/plain")


def routes(org: Org) -> list[Route]:
    async def identity(request: Request) -> Response:
        with org.store.lock:
            caller = _user(org, request)
            if caller is None:
                return _bad_token()
            wanted = to18(request.path_params["user_id"]) or ""
            user = org.store.tables["User"].get(wanted)
            if to18(request.path_params["org_id"]) != ORG_ID_18 or user is None:
                return Response("Not Found", 404, media_type="text/plain")
            return respond(200, _identity(org, user, str(caller["Id"])), {})

    async def userinfo(request: Request) -> Response:
        with org.store.lock:
            user = _user(org, request)
            if user is None:
                return _bad_token()
            return respond(200, _userinfo(org, user), {})

    return [
        Route("/id/{org_id}/{user_id}", identity, methods=["GET", "POST"]),
        Route("/services/oauth2/userinfo", userinfo, methods=["GET", "POST"]),
    ]
