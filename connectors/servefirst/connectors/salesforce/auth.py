"""Getting an access token: OAuth JWT bearer, client credentials, or a pre-issued token.

simple-salesforce builds its login URLs as ``https://{domain}.salesforce.com``, so it cannot log
in through a configured ``login_url`` (a My Domain, a test instance, the local sandbox). This
module does OAuth itself on the metered session (so the CA bundle, timeout and counting apply)
and hands only the token and instance URL to simple-salesforce. Tokens are kept as
``SecretStr`` and never appear in errors or logs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests
from pydantic import SecretStr

from servefirst.config.settings import SalesforceAuth
from servefirst.connectors.network import failure
from servefirst.playbook.errors import AuthError, RetryableError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts assertions that expire within a few minutes.
ASSERTION_LIFETIME = dt.timedelta(minutes=3)


@dataclass(frozen=True)
class Token:
    """An access token and the instance it is valid for."""

    access_token: SecretStr
    instance_url: str
    #: The user the token runs as, from the identity URL OAuth returns (``.../id/<org>/<user>``);
    #: ``None`` for a pre-issued token.
    user_id: str | None = None


class TokenSource:
    """Obtains a fresh access token whenever the connector needs one (at start, and on 401)."""

    def __init__(
        self,
        auth: SalesforceAuth,
        *,
        instance_url: str,
        base_dir: Path,
        session: requests.Session,
        connection: str,
    ) -> None:
        self.auth = auth
        self.instance_url = instance_url.rstrip("/")
        self.base_dir = base_dir
        self.session = session
        self.connection = connection
        self._last: SecretStr | None = None

    def fetch(self) -> Token:
        """A token; a pre-issued token that was already rejected is an error, not a retry loop."""
        if self.auth.method == "token":
            assert self.auth.access_token is not None  # noqa: S101 - checked by the settings model
            secret = self.auth.access_token.reveal(self.base_dir, f"{self.connection} access token")
            if (
                self._last is not None
                and secret.get_secret_value() == self._last.get_secret_value()
            ):
                raise AuthError(
                    "Salesforce rejected the pre-issued access token (expired or revoked); "
                    "issue a new one, or configure auth.method = 'jwt' so servefirst renews it",
                    connection=self.connection,
                )
            self._last = secret
            return Token(secret, self.instance_url)
        form = self._jwt_form() if self.auth.method == "jwt" else self._client_credentials_form()
        return self._post(form)

    def _jwt_form(self) -> dict[str, str]:
        auth = self.auth
        assert auth.private_key is not None  # noqa: S101 - checked by the settings model
        key = auth.private_key.reveal(self.base_dir, f"{self.connection} private key")
        now = dt.datetime.now(dt.UTC)
        claims = {
            "iss": auth.client_id,
            "sub": auth.username,
            "aud": auth.login_url.rstrip("/"),
            "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        }
        try:
            assertion = jwt.encode(claims, key.get_secret_value(), algorithm="RS256")
        except (ValueError, TypeError) as exc:
            raise AuthError(
                "cannot sign the JWT assertion: the private key is not a PEM RSA key "
                f"({type(exc).__name__})",
                connection=self.connection,
            ) from None
        return {"grant_type": JWT_GRANT, "assertion": assertion}

    def _client_credentials_form(self) -> dict[str, str]:
        auth = self.auth
        assert auth.client_secret is not None  # noqa: S101 - checked by the settings model
        secret = auth.client_secret.reveal(self.base_dir, f"{self.connection} client secret")
        return {
            "grant_type": "client_credentials",
            "client_id": str(auth.client_id),
            "client_secret": secret.get_secret_value(),
        }

    def _post(self, form: dict[str, str]) -> Token:
        url = f"{self.auth.login_url.rstrip('/')}/services/oauth2/token"
        try:
            response = self.session.post(url, data=form, headers={"Accept": "application/json"})
        except requests.exceptions.RequestException as exc:
            raise failure(exc, url, "Salesforce login", self.connection) from None
        body = _json(response)
        if response.status_code >= 500:
            raise RetryableError(
                f"the Salesforce login URL answered HTTP {response.status_code}",
                connection=self.connection,
            )
        if response.status_code != 200 or "access_token" not in body:
            error = body.get("error", f"HTTP {response.status_code}")
            detail = body.get("error_description", "")
            raise AuthError(
                f"Salesforce refused the {self.auth.method} login at {self.auth.login_url}: "
                "check the connected app, the user and the key or secret",
                connection=self.connection,
                response=f"{error}: {detail}" if detail else str(error),
            )
        instance = str(body.get("instance_url") or self.instance_url).rstrip("/")
        identity = str(body.get("id") or "").rstrip("/")
        user = identity.rsplit("/", 1)[-1] if "/id/" in identity else None
        return Token(SecretStr(str(body["access_token"])), instance, user or None)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
