"""Opening a connection validates its configuration before any request is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.base import ApiCalls
from servefirst.connectors.salesforce import connect
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError


def settings(**overrides: Any) -> SalesforceConnection:
    data: dict[str, Any] = {
        "crm": "salesforce",
        "instance_url": "https://acme.my.salesforce.com",
        "auth": {"method": "token", "access_token": {"env": "SF_TEST_TOKEN"}},
    }
    data.update(overrides)
    return SalesforceConnection.model_validate(data)


def test_connect_sends_nothing_and_hides_the_token(
    prime: Playbook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SF_TEST_TOKEN", "00Dxx!very-secret")
    connector = connect("acme", settings(), prime, base_dir=tmp_path)
    assert connector.api_calls == ApiCalls()
    assert "very-secret" not in repr(connector)
    connector.close()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fields": {"health": "Health; DROP"}}, "not a Salesforce API name"),
        ({"stage_map": {"qualify": "Qualification"}}, "unknown stage 'qualify'"),
    ],
)
def test_bad_configuration_fails_at_connect(
    prime: Playbook, tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        connect("acme", settings(**overrides), prime, base_dir=tmp_path)
