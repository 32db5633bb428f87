"""Fixtures for the Salesforce connector tests: sandboxes, connectors and a rep's own client.

Connector tests run the real simple-salesforce over HTTPS against the local sandbox. The "rep"
client is a plain simple-salesforce session on the sandbox's pre-issued token, used to set up
records and to make the edits a rep would make in Salesforce between two syncs. Helpers are
fixtures returning callables, so test modules import nothing from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce.api import Salesforce

from servefirst.config.loader import builtin_playbook, load_playbook_file, load_settings
from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.salesforce import RetryPolicy, SalesforceConnector
from servefirst.connectors.salesforce.sandbox.app import start_sandbox
from servefirst.connectors.salesforce.transport import CallMeter, metered_session
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook

#: The real backoff shape, with test-sized waits.
FAST = RetryPolicy(max_retries=3, initial_wait=0.01, max_wait=0.05, jitter=0.01)
JWT_CLIENT_ID = "servefirst-sandbox"
INTEGRATION_USER = "integration@servefirst.sandbox"

StartSandbox = Callable[..., RunningSandbox]
ConnectorFor = Callable[..., SalesforceConnector]


@pytest.fixture(scope="session")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


@pytest.fixture(scope="session")
def new_sandbox(tmp_path_factory: pytest.TempPathFactory) -> StartSandbox:
    """Start a sandbox (empty org unless ``seed`` says otherwise); the caller stops it.

    The org has serve-first's stages unless ``stages`` says otherwise: a fresh org's standard
    stages would need a ``stage_map`` these tests are not about.
    """

    def start(**options: Any) -> RunningSandbox:
        options.setdefault("seed", "none")
        options.setdefault("stages", "servefirst")
        sandbox: RunningSandbox = start_sandbox(workdir=tmp_path_factory.mktemp("sf"), **options)
        return sandbox

    return start


def _connection(
    sandbox: RunningSandbox, overrides: dict[str, Any]
) -> tuple[str, SalesforceConnection, Any]:
    settings = load_settings(sandbox.config_path)
    name, conn = settings.connection(None)
    assert isinstance(conn, SalesforceConnection)
    if overrides:
        conn = SalesforceConnection.model_validate({**conn.model_dump(), **overrides})
    return name, conn, settings.base_dir


@pytest.fixture(scope="session")
def connector_for(prime: Playbook) -> ConnectorFor:
    """A connector on a sandbox's own servefirst.toml, with setting overrides.

    Keyword arguments ``retry``, ``playbook`` and ``batch_size`` go to the connector; any
    other keyword overrides a connection setting.
    """

    def build(sandbox: RunningSandbox, **overrides: Any) -> SalesforceConnector:
        kwargs = {k: overrides.pop(k) for k in ("batch_size",) if k in overrides}
        retry = overrides.pop("retry", FAST)
        playbook = overrides.pop("playbook", prime)
        name, conn, base_dir = _connection(sandbox, overrides)
        return SalesforceConnector(name, conn, playbook, base_dir=base_dir, retry=retry, **kwargs)

    return build


@pytest.fixture(scope="session")
def jwt_auth() -> Callable[[RunningSandbox], dict[str, Any]]:
    """Auth settings for the JWT bearer flow through the sandbox's connected app."""

    def auth(sandbox: RunningSandbox) -> dict[str, Any]:
        return {
            "method": "jwt",
            "login_url": sandbox.url,
            "client_id": JWT_CLIENT_ID,
            "username": INTEGRATION_USER,
            "private_key": {"file": str(sandbox.config_path.parent / "jwt-private-key.pem")},
        }

    return auth


def _rep_client(sandbox: RunningSandbox) -> Any:
    # The connector's own transport pins the CA bundle and closes its pools on close(), so a
    # sandbox stops at once even when a test still holds an exception from this client.
    session = metered_session(CallMeter(1.0), timeout=30.0, ca_bundle=sandbox.ca_bundle)
    return Salesforce(instance_url=sandbox.url, session_id=sandbox.token, session=session)


@pytest.fixture(scope="session")
def rep() -> Callable[[RunningSandbox], Any]:
    """A plain simple-salesforce client, as a rep's own tools would use (close its session)."""
    return _rep_client


def count(sandbox: RunningSandbox, endpoint: str) -> int:
    return int(sandbox.admin.stats()["by_endpoint"].get(endpoint, 0))


@pytest.fixture(scope="session")
def counted() -> Callable[[RunningSandbox, str], int]:
    """Requests the sandbox counted for ``"METHOD endpoint"``, e.g. ``"GET query"``."""
    return count
