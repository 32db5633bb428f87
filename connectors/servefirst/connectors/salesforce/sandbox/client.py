"""A ``requests`` session that trusts the sandbox's CA, for simple-salesforce and plain calls.

``requests`` merges ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` from the environment *over*
``Session.verify`` (``Session.merge_environment_settings``), so setting ``session.verify`` alone
is silently ignored wherever those variables are set. The adapter below pins ``verify`` to the
bundle at send time, after that merge, and gives every call a default timeout (simple-
salesforce passes none on create/update/delete/describe).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class PinnedCAAdapter(HTTPAdapter):
    """Verifies TLS against one CA bundle and applies a default timeout."""

    def __init__(self, ca_bundle: Path, timeout: float = 30.0) -> None:
        super().__init__()
        self.ca_bundle = str(ca_bundle)
        self.default_timeout = timeout

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs["verify"] = self.ca_bundle
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, *args, **kwargs)


def client_session(ca_bundle: Path, timeout: float = 30.0) -> requests.Session:
    """A session for ``Salesforce(session=...)`` or direct calls to the sandbox."""
    session = requests.Session()
    session.mount("https://", PinnedCAAdapter(ca_bundle, timeout))
    return session
