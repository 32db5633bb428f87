"""Credentials and configuration problems surface as servefirst errors a user can act on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from servefirst.config.settings import Secret
from servefirst.connectors.base import Connector, PullWindow
from servefirst.connectors.hubspot import connect
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal


def test_the_connector_implements_the_seam(bare_portal: Portal, prime: Playbook) -> None:
    connector: Connector = bare_portal.connector(prime)  # checked by mypy
    assert connector.crm == "hubspot"
    assert "hubspot-token" not in repr(connector)
    assert bare_portal.sandbox.token not in repr(connector.__dict__)


def test_a_missing_pipeline_is_a_config_error_naming_the_fix(
    bare_portal: Portal, prime: Playbook
) -> None:
    connector = bare_portal.connector(prime, pipeline="No such pipeline")
    with pytest.raises(ConfigError, match="servefirst provision"):
        list(connector.pull(PullWindow()))


def test_a_rejected_token_is_an_auth_error_without_the_token(
    bare_portal: Portal, prime: Playbook, tmp_path: Path
) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("pat-na1-not-a-real-token\n", encoding="utf-8")
    connector = bare_portal.connector(prime, token=Secret(file=secret))
    with pytest.raises(AuthError, match="rejected the private-app token") as caught:
        list(connector.pull(PullWindow()))
    assert "pat-na1-not-a-real-token" not in str(caught.value)


def test_a_missing_scope_names_what_to_add(
    bare_portal: Portal, prime: Playbook, tmp_path: Path
) -> None:
    bare_portal.connector(prime).provision(prime, dry_run=False)
    reply = bare_portal.sandbox.admin.call(
        "POST", "/tokens", {"scopes": ["crm.objects.contacts.read"]}
    )
    secret = tmp_path / "narrow.txt"
    secret.write_text(reply["token"], encoding="utf-8")
    connector = bare_portal.connector(prime, token=Secret(file=secret))
    with pytest.raises(AuthError, match="scope") as caught:
        list(connector.pull(PullWindow()))
    assert "crm.objects.deals.read" in str(caught.value)  # HubSpot's reply names the scope


def test_an_unset_token_variable_is_a_config_error(
    bare_portal: Portal, prime: Playbook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SERVEFIRST_TEST_HUBSPOT_TOKEN", raising=False)
    settings = bare_portal.settings(token=Secret(env="SERVEFIRST_TEST_HUBSPOT_TOKEN"))
    with pytest.raises(ConfigError, match="SERVEFIRST_TEST_HUBSPOT_TOKEN"):
        connect("test", settings, prime, base_dir=bare_portal.workdir)
