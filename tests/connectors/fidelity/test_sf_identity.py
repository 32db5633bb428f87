"""Who a token is: the version's resources list, the identity URL and OAuth's userinfo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import requests

from servefirst.connectors.salesforce.sandbox import (
    INTEGRATION_USERNAME,
    JWT_CLIENT_ID,
    RunningSandbox,
    client_session,
)

#: The resources the sandbox serves under /services/data/vNN.N/, each answering a GET.
SERVED = ("sobjects", "query", "queryAll", "limits", "tooling", "composite")


def test_the_resources_list_names_every_served_resource_and_identity(
    sf: Any, fresh_org: RunningSandbox
) -> None:
    listing = sf.restful("")
    assert set(listing) == set(SERVED) | {"identity"}
    assert listing["identity"].startswith(f"{fresh_org.url}/id/00D")
    for name in SERVED:
        path = listing[name].removeprefix("/services/data/v59.0/")
        params = {"q": "SELECT Id FROM User"} if name.startswith("query") else None
        sf.restful(path, params=params)  # answers, or simple-salesforce raises


def _token_reply(sandbox: RunningSandbox) -> dict[str, Any]:
    key = (sandbox.config_path.parent / "jwt-private-key.pem").read_bytes()
    assertion = jwt.encode(
        {"iss": JWT_CLIENT_ID, "sub": INTEGRATION_USERNAME, "aud": sandbox.url, "exp": 2**31},
        key,
        algorithm="RS256",
    )
    assert sandbox.ca_bundle is not None
    session = client_session(Path(sandbox.ca_bundle))
    reply = session.post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    reply.raise_for_status()
    result: dict[str, Any] = reply.json()
    session.close()
    return result


def test_the_identity_url_from_the_token_reply_answers_for_its_user(
    fresh_org: RunningSandbox,
) -> None:
    token = _token_reply(fresh_org)
    assert fresh_org.ca_bundle is not None
    session = client_session(Path(fresh_org.ca_bundle))
    try:
        me = session.get(
            token["id"], headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
        assert me["id"] == token["id"]
        assert me["username"] == INTEGRATION_USERNAME and me["asserted_user"] is True
        assert token["id"].endswith(f"/{me['organization_id']}/{me['user_id']}")
        assert me["urls"]["rest"].endswith("/services/data/v{version}/")
        denied = session.get(token["id"], headers={"Authorization": "Bearer nonsense"})
        assert denied.status_code == 403 and denied.text == "Bad_OAuth_Token"
    finally:
        session.close()


def test_userinfo_is_the_openid_view_of_the_same_user(sf: Any, fresh_org: RunningSandbox) -> None:
    info = sf.oauth2("userinfo")
    assert info["preferred_username"] == INTEGRATION_USERNAME
    assert info["sub"] == sf.restful("")["identity"]
    assert fresh_org.ca_bundle is not None
    anonymous = requests.get(
        f"{fresh_org.url}/services/oauth2/userinfo", verify=str(fresh_org.ca_bundle), timeout=10
    )
    assert anonymous.status_code == 403
