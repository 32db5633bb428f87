"""One driver per CRM sandbox, so the acceptance stories run unchanged on both CRMs.

A driver starts its CRM's sandbox and does, through that CRM's own client library
(hubspot-api-client, simple-salesforce), what a rep or an auditor would: edit a record, list
the open servefirst tasks. The stories never read servefirst's own state to decide whether
servefirst did the right thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import hubspot
import pytest
from hubspot.crm.objects import SimplePublicObjectInput
from simple_salesforce.format import format_soql

from servefirst.connectors.hubspot.sandbox.launch import start_sandbox as start_hubspot
from servefirst.connectors.salesforce.sandbox.app import start_sandbox as start_salesforce
from servefirst.connectors.salesforce.sandbox.testing import connect as salesforce_client
from servefirst.connectors.sandboxkit import RunningSandbox, SandboxAdmin


class Driver(Protocol):
    """What the stories need from one CRM sandbox."""

    crm: str
    sandbox: RunningSandbox
    admin: SandboxAdmin
    #: Request path prefix of task writes, and the counter names that mean "tasks being written".
    task_write_prefix: str

    def writing_tasks(self, by_endpoint: dict[str, int]) -> bool: ...

    def open_task_keys(self) -> list[str]: ...

    def set_operational_date(self, record_id: str, date: dt.date) -> None: ...

    def operational_dates(self) -> dict[str, dt.date | None]: ...

    def close(self) -> None: ...


def _close_admin(admin: SandboxAdmin) -> None:
    # An open keep-alive connection holds the sandbox's shutdown for its 10-second timeout;
    # SandboxAdmin has no close() of its own.
    admin._session.close()


class HubSpotDriver:
    crm = "hubspot"
    task_write_prefix = "/crm/v3/objects/tasks"

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.admin = sandbox.admin
        client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
        self.tasks = client.crm.objects.tasks.basic_api
        self.deals = client.crm.deals.basic_api

    def writing_tasks(self, by_endpoint: dict[str, int]) -> bool:
        return bool(by_endpoint.get("POST objects/deals/batch/update")) and any(
            "tasks" in name and "create" in name for name in by_endpoint
        )

    def open_task_keys(self) -> list[str]:
        api = self.tasks
        keys: list[str] = []
        after = None
        while True:
            page = api.get_page(
                limit=100, after=after, properties=["servefirst_task_key", "hs_task_status"]
            )
            for task in page.results:
                props = task.properties
                if props.get("servefirst_task_key") and props.get("hs_task_status") != "COMPLETED":
                    keys.append(props["servefirst_task_key"])
            if page.paging is None or page.paging.next is None:
                return keys
            after = page.paging.next.after

    def set_operational_date(self, record_id: str, date: dt.date) -> None:
        update = SimplePublicObjectInput(properties={"operational_date": date.isoformat()})
        self.deals.update(record_id, update)

    def close(self) -> None:
        for api in (self.tasks, self.deals):
            api.api_client.rest_client.pool_manager.clear()
        _close_admin(self.admin)

    def operational_dates(self) -> dict[str, dt.date | None]:
        page = self.deals.get_page(limit=100, properties=["operational_date"])
        return {
            d.id: dt.date.fromisoformat(d.properties["operational_date"])
            if d.properties.get("operational_date")
            else None
            for d in page.results
        }


class SalesforceDriver:
    crm = "salesforce"
    task_write_prefix = "/services/data/v59.0/composite/sobjects/Task"

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.admin = sandbox.admin
        self.client: Any = salesforce_client(sandbox)

    def writing_tasks(self, by_endpoint: dict[str, int]) -> bool:
        # Opportunity updates and Task upserts share the collection endpoint: two calls in.
        return by_endpoint.get("PATCH composite/sobjects", 0) >= 2

    def open_task_keys(self) -> list[str]:
        soql = format_soql(
            "SELECT ServeFirst_Key__c FROM Task WHERE IsClosed = false AND ServeFirst_Key__c != {}",
            None,
        )
        return [r["ServeFirst_Key__c"] for r in self.client.query_all(soql)["records"]]

    def close(self) -> None:
        self.client.session.close()
        _close_admin(self.admin)

    def set_operational_date(self, record_id: str, date: dt.date) -> None:
        self.client.Opportunity.update(record_id, {"Operational_Date__c": date.isoformat()})

    def operational_dates(self) -> dict[str, dt.date | None]:
        rows = self.client.query_all("SELECT Id, Operational_Date__c FROM Opportunity")["records"]
        return {
            r["Id"]: dt.date.fromisoformat(r["Operational_Date__c"])
            if r["Operational_Date__c"]
            else None
            for r in rows
        }


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Driver]:
    """A demo org on one CRM's sandbox, and its driver.

    In production both connectors re-read some minutes before the watermark (search index
    lag, clock skew); against a sandbox without lag that overlap would re-read everything a
    test wrote seconds earlier and hide whether the engine asked for the right records. So
    in-process runs get no overlap (through the documented environment override); runs in a
    subprocess drop SERVEFIRST_* variables and keep the config's own.
    """
    name = str(request.param).upper()
    monkeypatch.setenv(f"SERVEFIRST_CONNECTIONS__{name}__INCREMENTAL_OVERLAP_SECONDS", "0")
    workdir = tmp_path / str(request.param)
    if request.param == "hubspot":
        sandbox = start_hubspot(
            workdir=workdir, seed="demo", rate_limits=False, search_lag_seconds=0.0
        )
        driver: Driver = HubSpotDriver(sandbox)
    else:
        sandbox = start_salesforce(workdir=workdir, seed="demo")
        driver = SalesforceDriver(sandbox)
    try:
        yield driver
    finally:
        driver.close()
        sandbox.stop()
