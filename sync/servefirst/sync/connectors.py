"""Open the connector a connection's settings ask for, importing only that CRM's code.

Lazy imports keep ``servefirst sync`` for a HubSpot portal from loading simple-salesforce (and
the other way round), and keep the engine free of any CRM name: adding a CRM is one line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, cast

from servefirst.config.settings import HubSpotConnection, SalesforceConnection
from servefirst.connectors.base import Connector
from servefirst.connectors.preflight import Check, Status
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError

ConnectionSettings = SalesforceConnection | HubSpotConnection

#: CRM kind -> the module whose ``connect(name, settings, playbook, *, base_dir)`` opens it.
CONNECTOR_MODULES: dict[str, str] = {
    "salesforce": "servefirst.connectors.salesforce",
    "hubspot": "servefirst.connectors.hubspot",
}


class ConnectFn(Protocol):
    def __call__(
        self, name: str, settings: ConnectionSettings, playbook: Playbook, *, base_dir: Path
    ) -> Connector: ...


def open_connector(
    name: str, conn_settings: ConnectionSettings, playbook: Playbook, base_dir: Path
) -> Connector:
    """A ready connector for the named connection (secrets are read now, never earlier)."""
    module_name = CONNECTOR_MODULES.get(conn_settings.crm)
    if module_name is None:
        raise ConfigError(f"connection {name!r}: no connector for CRM {conn_settings.crm!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"connection {name!r}: the {conn_settings.crm} connector cannot be loaded ({exc}); "
            "reinstall servefirst"
        ) from None
    connect = cast(ConnectFn, module.connect)
    return connect(name, conn_settings, playbook, base_dir=base_dir)


def diagnose_connection(
    name: str, conn_settings: ConnectionSettings, playbook: Playbook, base_dir: Path
) -> list[Check]:
    """``servefirst doctor``'s checklist for one connection, from its CRM's ``doctor`` module.

    A secret that cannot be read or a stage map the playbook does not know is a failed check
    like any other, so ``doctor --all`` carries on with the next connection.
    """
    module_name = CONNECTOR_MODULES.get(conn_settings.crm)
    if module_name is None:
        raise ConfigError(f"connection {name!r}: no connector for CRM {conn_settings.crm!r}")
    module = importlib.import_module(f"{module_name}.doctor")
    diagnose = cast(DiagnoseFn, module.diagnose)
    try:
        return diagnose(name, conn_settings, playbook, base_dir=base_dir)
    except ConfigError as exc:
        return [Check("config", Status.FAIL, exc.message, "fix servefirst.toml, then run again")]


class DiagnoseFn(Protocol):
    def __call__(
        self, name: str, settings: ConnectionSettings, playbook: Playbook, *, base_dir: Path
    ) -> list[Check]: ...
