"""Sandboxes as a user gets them: ``start_sandbox`` with its defaults, unless a test says.

The fidelity suite checks the documented shapes of each CRM's API through the real Python
clients, on sandboxes started the way ``servefirst sandbox serve`` starts them: a fresh
Salesforce org has the standard stages and Bulk jobs that take real time; a HubSpot portal
enforces its tier's rate limits and its search lags writes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from servefirst.connectors.hubspot.sandbox import start_sandbox as start_hubspot
from servefirst.connectors.salesforce.sandbox import RunningSandbox
from servefirst.connectors.salesforce.sandbox import start_sandbox as start_salesforce
from servefirst.connectors.salesforce.sandbox.testing import connect


@pytest.fixture(scope="module")
def fresh_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """An empty Salesforce org with every default (standard stages, timed Bulk jobs)."""
    sandbox = start_salesforce(workdir=tmp_path_factory.mktemp("sf-fresh"), seed="none")
    yield sandbox
    gc.collect()
    sandbox.stop()


@pytest.fixture(scope="module")
def sf(fresh_org: RunningSandbox) -> Iterator[Any]:
    client = connect(fresh_org)
    yield client
    client.session.close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """An empty HubSpot portal with every default (rate limits on, search lag on)."""
    sandbox = start_hubspot(workdir=tmp_path_factory.mktemp("hs-fresh"), seed="none")
    yield sandbox
    sandbox.stop()
