"""``POST /services/oauth2/token``: the JWT bearer and client credentials flows.

JWT bearer: the assertion must be RS256-signed by the private key matching the connected
app's certificate, with ``iss`` = the app's client id, ``sub`` = an active user's username,
``aud`` = the login URL (the sandbox's own URL, or login/test.salesforce.com) and an ``exp``
in the future. Client credentials: the app's client id and secret; tokens run as the
integration user. Errors answer 400 with ``{"error", "error_description"}`` like Salesforce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.http import respond
from servefirst.connectors.salesforce.sandbox.org import JWT_CLIENT_ID, Org
from servefirst.connectors.salesforce.sandbox.routes_identity import identity_url

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_REAL_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _jwt_user(org: Org, assertion: str) -> str:
    certificate = x509.load_pem_x509_certificate(org.jwt_certificate_pem)
    audiences = [org.instance_url, org.instance_url + "/", *_REAL_AUDIENCES]
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["RS256"],
            audience=audiences,
            options={"require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", "expired authorization code") from None
    except jwt.InvalidAudienceError:
        raise OAuthError("invalid_grant", "audience is invalid") from None
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != JWT_CLIENT_ID:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    return _active_user(org, str(claims.get("sub")))


def _active_user(org: Org, username: str) -> str:
    for user in org.store.tables["User"].values():
        if str(user.get("Username", "")).lower() == username.lower() and user.get("IsActive"):
            return str(user["Id"])
    raise OAuthError("invalid_grant", "user hasn't approved this consumer")


def _client_credentials_user(org: Org, form: dict[str, str]) -> str:
    if form.get("client_id") != JWT_CLIENT_ID:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret", "")
    if not hmac.compare_digest(secret.encode(), org.client_secret.encode()):
        raise OAuthError("invalid_client", "invalid client credentials")
    return org.user_id


def _grant(org: Org, form: dict[str, str]) -> dict[str, Any]:
    grant = form.get("grant_type", "")
    if grant == JWT_GRANT:
        user_id = _jwt_user(org, form.get("assertion", ""))
    elif grant == "client_credentials":
        user_id = _client_credentials_user(org, form)
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    token = org.tokens.issue(user_id)
    issued_at = str(int(time.time() * 1000))
    identity = identity_url(org, user_id)
    signature = hmac.new(
        org.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
    )
    return {
        "access_token": token,
        "scope": "api",
        "instance_url": org.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": base64.b64encode(signature.digest()).decode(),
    }


def routes(org: Org) -> list[Route]:
    async def token(request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart, not a dependency.
        raw = (await request.body()).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        try:
            with org.store.lock:
                payload = _grant(org, form)
        except OAuthError as exc:
            return respond(
                exc.status, {"error": exc.error, "error_description": exc.description}, {}
            )
        return respond(200, payload, {})

    return [Route("/services/oauth2/token", token, methods=["POST"])]
