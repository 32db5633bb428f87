"""A CRM that cannot be reached fails fast, in one line naming the host, the port and the fix.

Both connectors, through their real client libraries: a certificate that does not verify (no
``ca_bundle``), a port where nothing listens, a host DNS does not know. None of these is
retried for half a minute; a refused connection gets a couple of quick retries only.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.base import Connector, PullWindow
from servefirst.connectors.hubspot.sandbox import start_sandbox as start_hubspot
from servefirst.connectors.salesforce.sandbox import start_sandbox as start_salesforce
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import (
    CertificateError,
    HostNotFoundError,
    RefusedConnectionError,
    UnreachableError,
)
from servefirst.sync.connectors import open_connector


@pytest.fixture(scope="module", params=["salesforce", "hubspot"])
def tls_sandbox(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[RunningSandbox]:
    """A sandbox serving https with a certificate from its own throwaway CA."""
    workdir = tmp_path_factory.mktemp(request.param)
    if request.param == "salesforce":
        sandbox = start_salesforce(workdir=workdir, seed="none")
    else:
        sandbox = start_hubspot(
            workdir=workdir, seed="none", tls=True, rate_limits=False, search_lag_seconds=0.0
        )
    yield sandbox
    sandbox.stop()


def _connector(sandbox: RunningSandbox, **overrides: Any) -> Connector:
    settings = load_settings(sandbox.config_path)
    name, conn = settings.connection(None)
    conn = type(conn).model_validate({**conn.model_dump(), **overrides})
    return open_connector(name, conn, load_playbook(settings), settings.base_dir)


def connector_playbook(sandbox: RunningSandbox) -> Playbook:
    return load_playbook(load_settings(sandbox.config_path))


def _url_key(sandbox: RunningSandbox) -> str:
    return "instance_url" if sandbox.crm == "salesforce" else "base_url"


def _fail(connector: Connector, caplog: pytest.LogCaptureFixture) -> tuple[UnreachableError, int]:
    """Pull, expecting the CRM to be unreachable: the error and how many retries it took."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="servefirst.connectors.retry"):
        try:
            with pytest.raises(UnreachableError) as info:
                list(connector.pull(PullWindow()))
        finally:
            connector.close()
    retries = sum("retry" in r.getMessage() for r in caplog.records)
    return info.value, retries


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_trusted_ca_bundle_connects(tls_sandbox: RunningSandbox) -> None:
    assert tls_sandbox.url.startswith("https://")
    connector = _connector(tls_sandbox)
    try:
        report = connector.provision(connector_playbook(tls_sandbox), dry_run=True)
    finally:
        connector.close()
    assert report.changes  # it read the CRM and found what provisioning would add


def test_a_certificate_that_does_not_verify_names_host_and_fix_at_once(
    tls_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    error, retries = _fail(_connector(tls_sandbox, ca_bundle=None), caplog)
    assert isinstance(error, CertificateError)
    assert str(error).startswith("certificate verify failed for 127.0.0.1: set ca_bundle")
    assert "\n" not in str(error)
    assert (error.host, error.port) == ("127.0.0.1", int(tls_sandbox.url.rsplit(":", 1)[1]))
    assert "ca_bundle" in error.fix
    assert retries == 0


def test_a_refused_connection_names_host_and_port_after_two_quick_retries(
    tls_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    port = _dead_port()
    url = f"https://127.0.0.1:{port}"
    error, retries = _fail(_connector(tls_sandbox, **{_url_key(tls_sandbox): url}), caplog)
    assert isinstance(error, RefusedConnectionError)
    assert f"connection refused by 127.0.0.1:{port}" in str(error)
    assert "MaxRetryError" not in str(error)
    assert (error.host, error.port) == ("127.0.0.1", port)
    assert retries == 2


def test_an_unknown_host_is_named(
    tls_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://no-such-crm.invalid"
    error, retries = _fail(_connector(tls_sandbox, **{_url_key(tls_sandbox): url}), caplog)
    assert isinstance(error, HostNotFoundError)
    assert str(error).startswith("cannot resolve host no-such-crm.invalid")
    assert retries == 0


@pytest.mark.parametrize("key", ["instance_url", "base_url"])
def test_plain_http_to_another_host_is_a_config_error(tmp_path: Path, key: str) -> None:
    crm = "salesforce" if key == "instance_url" else "hubspot"
    extra = (
        'auth = { method = "token", access_token = { env = "SF_TOKEN" } }'
        if crm == "salesforce"
        else 'token = { env = "HS_TOKEN" }'
    )
    config = tmp_path / "servefirst.toml"
    config.write_text(
        f'[connections.crm]\ncrm = "{crm}"\n{key} = "http://crm.example.com"\n{extra}\n',
        encoding="utf-8",
    )
    with pytest.raises(Exception, match=r"https://") as info:
        load_settings(config)
    assert "servefirst.toml" in str(info.value)
