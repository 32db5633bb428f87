"""servefirst.toml: validated strictly, errors with lines, secrets only by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from servefirst.config.loader import ConfigFileError, load_playbook, load_settings
from servefirst.config.settings import HubSpotConnection, SalesforceConnection
from servefirst.playbook.errors import ConfigError

GOOD = """\
playbook = "builtin:prime"

[connections.acme]
crm = "salesforce"
instance_url = "https://acme.my.salesforce.com"
schedule = { cron = "*/15 * * * *" }

[connections.acme.auth]
method = "token"
access_token = { env = "ACME_SF_TOKEN" }

[connections.portal]
crm = "hubspot"
token = { file = "hubspot.token" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "servefirst.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    acme = settings.connections["acme"]
    portal = settings.connections["portal"]
    assert isinstance(acme, SalesforceConnection)
    assert isinstance(portal, HubSpotConnection)
    assert acme.fields.operational_date == "Operational_Date__c"
    assert portal.pipeline == "Serve-first"
    assert settings.resolve_state_url() == f"sqlite:///{tmp_path.resolve()}/.servefirst/state.db"
    assert load_playbook(settings).name == "prime"


def test_misspelt_key_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('crm = "hubspot"', 'crm = "hubspot"\npipline = "x"'))
    with pytest.raises(ConfigFileError) as caught:
        load_settings(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:14: ")
    assert "connections.portal.pipline" in problem


def test_bad_cron_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("*/15 * * * *", "every 15 minutes"))
    with pytest.raises(ConfigFileError) as caught:
        load_settings(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:6: ")
    assert "five fields" in problem


def test_broken_toml_reports_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace('crm = "hubspot"', 'crm = "hubspot'))
    with pytest.raises(ConfigFileError) as caught:
        load_settings(path)
    assert caught.value.problems[0].startswith(f"{path}:13: invalid TOML")


def test_secret_literal_is_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path, GOOD.replace('token = { file = "hubspot.token" }', 'token = "pat-na1-secret"')
    )
    with pytest.raises(ConfigFileError) as caught:
        load_settings(path)
    assert "pat-na1-secret" not in "".join(caught.value.problems)


def test_secret_from_env_and_file_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(_write(tmp_path, GOOD))
    monkeypatch.setenv("ACME_SF_TOKEN", "00Dxx!supersecret")
    acme = settings.connections["acme"]
    assert isinstance(acme, SalesforceConnection)
    assert acme.auth.access_token is not None
    secret = acme.auth.access_token.reveal(tmp_path, "acme")
    assert secret.get_secret_value() == "00Dxx!supersecret"
    assert "supersecret" not in repr(secret) and "supersecret" not in str(secret)
    portal = settings.connections["portal"]
    assert isinstance(portal, HubSpotConnection)
    with pytest.raises(ConfigError, match="cannot read secret file"):
        portal.token.reveal(tmp_path, "portal")


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVEFIRST_STATE_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("SERVEFIRST_CONNECTIONS__ACME__TIMEOUT_SECONDS", "12.5")
    settings = load_settings(_write(tmp_path, GOOD))
    assert settings.resolve_state_url() == "sqlite:////tmp/elsewhere.db"
    assert settings.connections["acme"].timeout_seconds == 12.5


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="servefirst init"):
        load_settings(tmp_path / "nope.toml")
