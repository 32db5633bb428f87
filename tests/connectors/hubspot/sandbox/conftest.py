"""Fixtures for the HubSpot sandbox tests: one demo sandbox per session, real client on it.

The client is built once with ``client_side_validation=True`` and its API objects are cached
(each attribute access of ``hubspot.Client`` builds a new ApiClient and connection pool).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hubspot
import pytest

from servefirst.connectors.hubspot.sandbox import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox

_names = itertools.count(1)


@dataclass
class Apis:
    """The hubspot-api-client API objects the tests use, created once."""

    client: Any
    deals: Any
    deals_batch: Any
    deals_search: Any
    contacts: Any
    contacts_batch: Any
    tasks: Any
    tasks_batch: Any
    tasks_search: Any
    properties: Any
    groups: Any
    properties_batch: Any
    pipelines: Any
    stages: Any
    assoc: Any
    assoc_batch: Any
    labels: Any
    owners: Any


def make_apis(url: str, token: str, retry: Any = None) -> Apis:
    options: dict[str, Any] = {"retry": retry} if retry is not None else {}
    client = hubspot.Client.create(
        access_token=token, host=url, client_side_validation=True, **options
    )
    crm = client.crm
    return Apis(
        client=client,
        deals=crm.deals.basic_api,
        deals_batch=crm.deals.batch_api,
        deals_search=crm.deals.search_api,
        contacts=crm.contacts.basic_api,
        contacts_batch=crm.contacts.batch_api,
        tasks=crm.objects.tasks.basic_api,
        tasks_batch=crm.objects.tasks.batch_api,
        tasks_search=crm.objects.tasks.search_api,
        properties=crm.properties.core_api,
        groups=crm.properties.groups_api,
        properties_batch=crm.properties.batch_api,
        pipelines=crm.pipelines.pipelines_api,
        stages=crm.pipelines.pipeline_stages_api,
        assoc=crm.associations.v4.basic_api,
        assoc_batch=crm.associations.v4.batch_api,
        labels=crm.associations.v4.schema.definitions_api,
        owners=crm.owners.owners_api,
    )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    running = start_sandbox(
        workdir=tmp_path_factory.mktemp("hubspot"),
        seed="demo",
        rate_limits=False,
        search_lag_seconds=0.0,
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def apis(sandbox: RunningSandbox) -> Apis:
    return make_apis(sandbox.url, sandbox.token)


@pytest.fixture
def unique() -> str:
    """A name no other test uses (tests share one portal)."""
    return f"t{next(_names):04d}"


@pytest.fixture
def empty_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A fresh, empty portal for tests that change portal-wide settings."""
    running = start_sandbox(
        workdir=tmp_path, seed="none", rate_limits=False, search_lag_seconds=0.0
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def connect() -> Any:
    """Builds the cached API objects for another sandbox (or token)."""
    return make_apis
