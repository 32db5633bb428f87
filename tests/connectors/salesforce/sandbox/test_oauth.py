"""The OAuth token endpoint (JWT bearer, client credentials) and session expiry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from servefirst.connectors.salesforce.sandbox import (
    INTEGRATION_USERNAME,
    JWT_CLIENT_ID,
    RunningSandbox,
    client_session,
    start_sandbox,
)
from servefirst.connectors.salesforce.sandbox.testing import first_error

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _key(sandbox: RunningSandbox) -> bytes:
    return (sandbox.config_path.parent / "jwt-private-key.pem").read_bytes()


def _assertion(sandbox: RunningSandbox, key: Any = None, **claims: Any) -> str:
    payload = {
        "iss": JWT_CLIENT_ID,
        "sub": INTEGRATION_USERNAME,
        "aud": sandbox.url,
        "exp": int(time.time()) + 180,
        **claims,
    }
    return jwt.encode(payload, key or _key(sandbox), algorithm="RS256")


def _token(sandbox: RunningSandbox, **form: str) -> tuple[int, Any]:
    """Status and JSON body of a token request.

    Only plain values leave this function: a live Response keeps its TLS connection open,
    which would make the server's stop wait.
    """
    with (
        requests.Session() as session,
        session.post(
            f"{sandbox.url}/services/oauth2/token",
            data=form,
            verify=str(sandbox.ca_bundle),
            timeout=10,
        ) as reply,
    ):
        return reply.status_code, reply.json()


def test_jwt_bearer_issues_a_working_token(demo: RunningSandbox) -> None:
    status, body = _token(demo, grant_type=JWT_GRANT, assertion=_assertion(demo))
    assert status == 200
    assert {"access_token", "instance_url", "token_type", "issued_at", "signature"} <= set(body)
    assert body["token_type"] == "Bearer" and body["instance_url"] == demo.url
    assert demo.ca_bundle is not None
    sf = Salesforce(
        instance_url=body["instance_url"],
        session_id=body["access_token"],
        version="59.0",
        session=client_session(demo.ca_bundle),
    )
    assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1
    sf.session.close()


def test_jwt_signed_by_another_key_is_refused(demo: RunningSandbox) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    status, body = _token(demo, grant_type=JWT_GRANT, assertion=_assertion(demo, key=pem))
    assert status == 400
    assert body == {"error": "invalid_grant", "error_description": "invalid assertion"}


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://evil.example"}, "invalid_grant", "audience is invalid"),
        ({"exp": int(time.time()) - 60}, "invalid_grant", "expired authorization code"),
        ({"sub": "nobody@nowhere.example"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"iss": "someone-else"}, "invalid_client_id", "client identifier invalid"),
    ],
)
def test_jwt_claims_are_checked(
    demo: RunningSandbox, claims: dict[str, Any], error: str, description: str
) -> None:
    status, body = _token(demo, grant_type=JWT_GRANT, assertion=_assertion(demo, **claims))
    assert status == 400
    assert body == {"error": error, "error_description": description}


def test_jwt_audience_may_be_the_real_login_url(demo: RunningSandbox) -> None:
    assertion = _assertion(demo, aud="https://login.salesforce.com")
    assert _token(demo, grant_type=JWT_GRANT, assertion=assertion)[0] == 200


def test_client_credentials(demo: RunningSandbox) -> None:
    secret = (demo.config_path.parent / "client-secret.txt").read_text().strip()
    status, body = _token(
        demo, grant_type="client_credentials", client_id=JWT_CLIENT_ID, client_secret=secret
    )
    assert status == 200 and body["access_token"].startswith("00D")
    status, body = _token(
        demo, grant_type="client_credentials", client_id=JWT_CLIENT_ID, client_secret="wrong"
    )
    assert status == 400 and body["error"] == "invalid_client"


def test_unknown_grant_type(demo: RunningSandbox) -> None:
    status, body = _token(demo, grant_type="password", username="x", password="y")
    assert (status, body["error"]) == (400, "unsupported_grant_type")


def test_bad_token_is_401_invalid_session_id(demo: RunningSandbox) -> None:
    assert demo.ca_bundle is not None
    sf = Salesforce(
        instance_url=demo.url,
        session_id="00D!not-a-token",
        version="59.0",
        session=client_session(demo.ca_bundle),
    )
    with pytest.raises(SalesforceExpiredSession) as raised:
        sf.query("SELECT Id FROM User")
    assert first_error(raised.value) == {
        "message": "Session expired or invalid",
        "errorCode": "INVALID_SESSION_ID",
    }
    sf.session.close()


def _limits(sandbox: RunningSandbox, token: str) -> tuple[int, Any]:
    """Status and body of ``GET limits`` (the response is closed before returning)."""
    with (
        requests.Session() as session,
        session.get(
            f"{sandbox.url}/services/data/v59.0/limits/",
            headers={"Authorization": f"Bearer {token}"},
            verify=str(sandbox.ca_bundle),
            timeout=10,
        ) as reply,
    ):
        return reply.status_code, reply.json()


def test_tokens_expire_after_their_lifetime(tmp_path: Path) -> None:
    sandbox = start_sandbox(workdir=tmp_path, seed="none", stages="servefirst", token_ttl_seconds=1)
    try:
        token = _token(sandbox, grant_type=JWT_GRANT, assertion=_assertion(sandbox))[1][
            "access_token"
        ]
        assert _limits(sandbox, token)[0] == 200
        time.sleep(1.1)
        status, body = _limits(sandbox, token)
        assert status == 401 and body[0]["errorCode"] == "INVALID_SESSION_ID"
    finally:
        sandbox.stop()


def test_admin_can_expire_the_pre_issued_token(fresh: RunningSandbox) -> None:
    assert _limits(fresh, fresh.token)[0] == 200
    assert fresh.admin.call("POST", "/tokens/expire", {}) == {"expired": 1}
    assert _limits(fresh, fresh.token)[0] == 401
