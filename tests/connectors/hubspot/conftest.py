"""Fixtures for the HubSpot connector tests: sandboxes on loopback and the real client on them.

``Portal`` bundles a running sandbox with a factory for connectors (real hubspot-api-client,
``client_side_validation=True``) and a ``Rep``: a second, independent client that edits the
portal the way a sales rep or an admin would, so tests never reach into the sandbox's memory
to arrange data.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hubspot
import pytest
from hubspot.crm import objects
from hubspot.crm.associations.v4 import AssociationSpec as LabelSpec
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.deals import SimplePublicObjectInput as DealUpdate
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import HubSpotConnection, Secret
from servefirst.connectors.hubspot import HubSpotConnector, connect
from servefirst.connectors.hubspot.limits import Pacer
from servefirst.connectors.hubspot.sandbox import start_sandbox
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook

_dirs = itertools.count(1)


@pytest.fixture(scope="session")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


class Rep:
    """Edits the portal through its own hubspot-api-client, as a person in HubSpot would."""

    def __init__(self, url: str, token: str) -> None:
        client = hubspot.Client.create(access_token=token, host=url, client_side_validation=True)
        crm = client.crm
        self.deals = crm.deals.basic_api
        self.deals_batch = crm.deals.batch_api
        self.contacts = crm.contacts.basic_api
        self.tasks = crm.objects.tasks.basic_api
        self.tasks_batch = crm.objects.tasks.batch_api
        self.pipelines = crm.pipelines.pipelines_api
        self.assoc = crm.associations.v4.basic_api
        self.labels = crm.associations.v4.schema.definitions_api
        self.client_properties = crm.properties.core_api
        self.groups = crm.properties.groups_api
        self._apis = [self.deals, self.deals_batch, self.contacts, self.tasks, self.tasks_batch]
        self._apis += [self.pipelines, self.assoc, self.labels, self.client_properties, self.groups]

    def stage_id(self, pipeline_label: str, stage_label: str) -> tuple[str, str]:
        for pipeline in self.pipelines.get_all("deals").results:
            if pipeline.label == pipeline_label:
                for stage in pipeline.stages:
                    if stage.label == stage_label:
                        return pipeline.id, stage.id
        raise LookupError(f"{pipeline_label}/{stage_label}")

    def deal(
        self, name: str, stage: str = "Design", pipeline: str = "Serve-first", **props: str
    ) -> str:
        pipeline_id, stage_id = self.stage_id(pipeline, stage)
        values = {"dealname": name, "pipeline": pipeline_id, "dealstage": stage_id, **props}
        return str(self.deals.create(DealCreate(properties=values, associations=[])).id)

    def update_deal(self, deal_id: str, **props: str) -> None:
        self.deals.update(deal_id, DealUpdate(properties=props))

    def get_deal(self, deal_id: str, *names: str) -> dict[str, Any]:
        return dict(self.deals.get_by_id(deal_id, properties=list(names)).properties)

    def contact(self, first: str, last: str) -> str:
        props = {"firstname": first, "lastname": last, "email": f"{first}.{last}@example.com"}
        return str(self.contacts.create(ContactCreate(properties=props, associations=[])).id)

    def sponsor(self, deal_id: str, contact_id: str, label: str = "Sponsor") -> None:
        type_id = next(
            r.type_id for r in self.labels.get_all("deals", "contacts").results if r.label == label
        )
        spec = LabelSpec(association_category="USER_DEFINED", association_type_id=type_id)
        self.assoc.create("deals", deal_id, "contacts", contact_id, [spec])

    def tasks_of(self, deal_id: str) -> list[dict[str, Any]]:
        """Every task associated to the deal, with its key and status (consistent reads)."""
        links = self.assoc.get_page("deals", deal_id, "tasks", limit=500).results
        ids = [str(link.to_object_id) for link in links]
        if not ids:
            return []
        tasks = objects.tasks
        body = tasks.BatchReadInputSimplePublicObjectId(
            inputs=[tasks.SimplePublicObjectId(id=i) for i in ids],
            properties=[
                "servefirst_task_key",
                "hs_task_status",
                "hubspot_owner_id",
                "hs_timestamp",
            ],
            properties_with_history=[],
        )
        return [{"id": r.id, **r.properties} for r in self.tasks_batch.read(body).results]

    def task(self, deal_id: str, subject: str) -> str:
        tasks = objects.tasks
        spec = tasks.AssociationSpec(
            association_category="HUBSPOT_DEFINED", association_type_id=216
        )
        assoc = tasks.PublicAssociationsForObject(to=tasks.PublicObjectId(id=deal_id), types=[spec])
        props = {"hs_task_subject": subject, "hs_timestamp": "2026-06-01T12:00:00.000Z"}
        body = tasks.SimplePublicObjectInputForCreate(properties=props, associations=[assoc])
        return str(self.tasks.create(body).id)

    def complete_task(self, task_id: str) -> None:
        body = objects.tasks.SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED"})
        self.tasks.update(task_id, body)

    def close(self) -> None:
        for api in self._apis:
            api.api_client.close()


@dataclass
class Portal:
    """A running sandbox, a rep on it, and a connector factory."""

    sandbox: RunningSandbox
    workdir: Path
    rep: Rep
    connectors: list[HubSpotConnector] = field(default_factory=list)

    def settings(self, **overrides: Any) -> HubSpotConnection:
        values: dict[str, Any] = {
            "crm": "hubspot",
            "base_url": self.sandbox.url,
            "token": Secret(file=self.workdir / "hubspot-token.txt"),
            "max_retries": 3,
            "timeout_seconds": 10.0,
        }
        values.update(overrides)
        return HubSpotConnection(**values)

    def connector(
        self, playbook: Playbook, pacer: Pacer | None = None, **overrides: Any
    ) -> HubSpotConnector:
        connector = connect(
            "test",
            self.settings(**overrides),
            playbook,
            base_dir=self.workdir,
            client_side_validation=True,
            pacer=pacer,
        )
        self.connectors.append(connector)
        return connector

    def writes(self) -> dict[str, int]:
        """Request counts since the last reset, by ``"METHOD endpoint"``."""
        counts: dict[str, int] = self.sandbox.admin.stats()["by_endpoint"]
        return counts

    def reset(self) -> None:
        """Zero the request counters and the rate-limit windows between tests."""
        admin = self.sandbox.admin
        admin.reset_stats()
        admin.clear_faults()
        admin.call("POST", "/ratelimits", {"reset_window": True})

    def stop(self) -> None:
        for connector in self.connectors:
            connector.close()
        self.rep.close()
        self.sandbox.stop()


def open_portal(tmp_path_factory: pytest.TempPathFactory, **options: Any) -> Portal:
    """A portal started with ``options``; rate limits and search lag are off unless asked for.

    A real portal has both (and a sandbox does by default); these tests prove other things and
    turn them off explicitly, while the tests of pacing and lag ask for them.
    """
    options.setdefault("rate_limits", False)
    options.setdefault("search_lag_seconds", 0.0)
    workdir = tmp_path_factory.mktemp(f"hubspot{next(_dirs)}")
    sandbox = start_sandbox(workdir=workdir, **options)
    return Portal(sandbox, workdir, Rep(sandbox.url, sandbox.token))


@pytest.fixture(scope="session")
def portal_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Portal]:
    """Opens a sandbox with ``start_sandbox`` options; the caller stops it."""
    return functools.partial(open_portal, tmp_path_factory)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, prime: Playbook) -> Iterator[Portal]:
    """An empty portal provisioned by the connector (one per test module)."""
    opened = open_portal(tmp_path_factory, seed="none")
    opened.connector(prime).provision(prime, dry_run=False)
    yield opened
    opened.stop()


@pytest.fixture(scope="module")
def bare_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """An empty, unprovisioned portal (one per test module)."""
    opened = open_portal(tmp_path_factory, seed="none")
    yield opened
    opened.stop()


@pytest.fixture(autouse=True)
def _fresh_counters(request: pytest.FixtureRequest) -> None:
    for name in ("portal", "bare_portal"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
