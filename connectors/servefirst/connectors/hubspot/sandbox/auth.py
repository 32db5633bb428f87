"""Private-app bearer tokens and their scopes.

A missing or unknown token answers 401 ``INVALID_AUTHENTICATION``; an expired one 401
``EXPIRED_AUTHENTICATION``; a token without a scope the endpoint needs 403 ``MISSING_SCOPES``
with the scopes in ``errors[0].context.requiredScopes`` (and ``requiredGranularScopes``).
Scopes follow HubSpot's specs: objects need ``crm.objects.<family>.read|write`` (tasks and notes
are guarded by the contacts scopes, as HubSpot's engagement APIs are); property and pipeline
reads accept the object's read or write scope or ``crm.schemas.<family>.read``, their writes
need ``crm.schemas.<family>.write``; associations need the object scope on both sides.
"""

from __future__ import annotations

import secrets

from servefirst.connectors.hubspot.sandbox.errors import ApiError
from servefirst.connectors.hubspot.sandbox.store import Portal

_FAMILIES = ("deals", "contacts", "companies")
ALL_SCOPES: frozenset[str] = frozenset(
    [f"crm.objects.{f}.{a}" for f in _FAMILIES for a in ("read", "write")]
    + [f"crm.schemas.{f}.{a}" for f in _FAMILIES for a in ("read", "write")]
    + ["crm.objects.owners.read"]
)
SCOPES_DOC = "https://developers.hubspot.com/scopes"


def issue_token(portal: Portal, scopes: frozenset[str] = ALL_SCOPES, expired: bool = False) -> str:
    """A new private-app token (``pat-na1-...``) with these scopes."""
    token = f"pat-na1-{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
    portal.tokens[token] = (frozenset(scopes), expired)
    return token


def authenticate(portal: Portal, authorization: str | None) -> frozenset[str]:
    """The scopes of the request's bearer token; raises HubSpot's 401."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise ApiError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    entry = portal.tokens.get(authorization[7:].strip())
    if entry is None:
        raise ApiError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. The access token is not valid for this portal.",
        )
    scopes, expired = entry
    if expired:
        raise ApiError(
            401,
            "EXPIRED_AUTHENTICATION",
            "The OAuth token used to make this call expired.",
        )
    return scopes


def require(granted: frozenset[str], needed: tuple[tuple[str, ...], ...]) -> None:
    """Raises HubSpot's 403 when a group of alternative scopes has none granted."""
    for group in needed:
        if any(scope in granted for scope in group):
            continue
        raise ApiError(
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call. "
            f"Read more about required scopes here: {SCOPES_DOC}.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {
                        "requiredScopes": list(group),
                        "requiredGranularScopes": list(group),
                    },
                }
            ],
            links={"scopes": SCOPES_DOC},
        )
