"""One contract, two CRMs: each sandbox behind an adapter that acts as a rep would.

The adapters create engagements from neutral specs and read back what the CRM holds, through
the real client libraries (simple-salesforce, hubspot-api-client), never through servefirst's
connectors. The contract tests then drive the connectors and the engine the same way on both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import hubspot
import pytest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.objects import SimplePublicObjectInput

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.salesforce.sandbox.testing import connect as salesforce_client
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.definition import Playbook
from servefirst.sync.demo.reps import SalesforceRep as DemoSalesforceRep
from servefirst.sync.service import provision_connection

STAGE_LABELS = {
    "discover": "Discover",
    "diagnose": "Diagnose",
    "design": "Design",
    "deliver": "Deliver",
    "won": "Closed Won",
    "lost": "Closed Lost",
}


@dataclass(frozen=True)
class Spec:
    """A neutral engagement as a rep would enter it. ``stage`` may be a raw CRM value."""

    name: str
    stage: str
    po_date: dt.date
    operational_date: dt.date | None = None
    criteria: str | None = None
    sponsor: bool = False
    confirmed: bool = False


@dataclass(frozen=True)
class SeenTask:
    """A playbook task as a rep sees it in the CRM."""

    task_id: str
    key: str
    open: bool
    subject: str
    body: str


class Rep(Protocol):
    def create(self, spec: Spec) -> str: ...

    def tasks(self) -> list[SeenTask]: ...

    def complete_task(self, task_id: str) -> None: ...

    def text_field(self, engagement_id: str, name: str) -> str | None: ...

    def set_operational_date(self, engagement_id: str, when: dt.date) -> None: ...

    def set_po_date(self, engagement_id: str, when: dt.date) -> None: ...

    def waive(self, engagement_id: str, waiver: str) -> None: ...

    def plugin_fields(self, engagement_id: str) -> tuple[str | None, str | None, int | None]: ...

    def open_task_keys(self) -> list[str]: ...

    def close(self) -> None: ...


class SalesforceRep:
    """Opportunities, contact roles and tasks through simple-salesforce."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.sf: Any = salesforce_client(sandbox)
        self._health = {"On track": "on_track", "At risk": "at_risk", "Off track": "off_track"}

    def create(self, spec: Spec) -> str:
        record: dict[str, Any] = {
            "Name": spec.name,
            "StageName": STAGE_LABELS.get(spec.stage, spec.stage),
            "CloseDate": spec.po_date.isoformat(),
            "Success_Confirmed__c": spec.confirmed,
        }
        if spec.operational_date:
            record["Operational_Date__c"] = spec.operational_date.isoformat()
        if spec.criteria:
            record["Success_Criteria__c"] = spec.criteria
        opportunity_id = str(self.sf.Opportunity.create(record)["id"])
        if spec.sponsor:
            contact = self.sf.Contact.create({"FirstName": "Dana", "LastName": spec.name[:20]})
            self.sf.OpportunityContactRole.create(
                {
                    "OpportunityId": opportunity_id,
                    "ContactId": contact["id"],
                    "Role": "Executive Sponsor",
                }
            )
        return opportunity_id

    def close(self) -> None:
        self.sf.session.close()

    def set_operational_date(self, engagement_id: str, when: dt.date) -> None:
        self.sf.Opportunity.update(engagement_id, {"Operational_Date__c": when.isoformat()})

    def set_po_date(self, engagement_id: str, when: dt.date) -> None:
        self.sf.Opportunity.update(engagement_id, {"CloseDate": when.isoformat()})

    def waive(self, engagement_id: str, waiver: str) -> None:
        """As a manager holding the waiver permission set (the demo's desk knows how)."""
        desk = DemoSalesforceRep(self.sandbox)
        try:
            desk.waive(engagement_id, waiver)
        finally:
            desk.close()

    def plugin_fields(self, engagement_id: str) -> tuple[str | None, str | None, int | None]:
        row = self.sf.Opportunity.get(engagement_id)
        slips = row["Operational_Date_Slips__c"]
        health = row["Playbook_Health__c"]
        return (
            self._health.get(health),
            row["Playbook_Findings__c"],
            None if slips is None else int(slips),
        )

    def open_task_keys(self) -> list[str]:
        query = (
            "SELECT ServeFirst_Key__c FROM Task"
            " WHERE IsClosed = false AND ServeFirst_Key__c != null"
        )
        return [r["ServeFirst_Key__c"] for r in self.sf.query_all(query)["records"]]

    def tasks(self) -> list[SeenTask]:
        query = (
            "SELECT Id, ServeFirst_Key__c, IsClosed, Subject, Description FROM Task"
            " WHERE ServeFirst_Key__c != null"
        )
        return [
            SeenTask(
                r["Id"],
                r["ServeFirst_Key__c"],
                not r["IsClosed"],
                r["Subject"] or "",
                r["Description"] or "",
            )
            for r in self.sf.query_all(query)["records"]
        ]

    def complete_task(self, task_id: str) -> None:
        self.sf.Task.update(task_id, {"Status": "Completed"})

    def text_field(self, engagement_id: str, name: str) -> str | None:
        api = {"timetable": "Playbook_Timetable__c", "waiver": "Playbook_Waiver__c"}[name]
        value = self.sf.Opportunity.get(engagement_id)[api]
        return str(value) if value else None


class HubSpotRep:
    """Deals, labelled contact associations and tasks through hubspot-api-client."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.client: Any = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
        self.deals = self.client.crm.deals.basic_api
        pipelines = self.client.crm.pipelines.pipelines_api.get_all("deals").results
        pipeline = next(p for p in pipelines if p.label == "Serve-first")
        self.pipeline_id = pipeline.id
        self.stage_ids = {s.label: s.id for s in pipeline.stages}
        labels = self.client.crm.associations.v4.schema.definitions_api.get_all("deals", "contacts")
        self.sponsor = next(label for label in labels.results if label.label == "Sponsor")

    def create(self, spec: Spec) -> str:
        label = STAGE_LABELS.get(spec.stage)
        properties = {
            "dealname": spec.name,
            "pipeline": self.pipeline_id,
            "dealstage": self.stage_ids[label] if label else spec.stage,
            "closedate": f"{spec.po_date.isoformat()}T00:00:00.000Z",
            "success_confirmed": "true" if spec.confirmed else "false",
        }
        if spec.operational_date:
            properties["operational_date"] = spec.operational_date.isoformat()
        if spec.criteria:
            properties["success_criteria"] = spec.criteria
        deal_id = str(self.deals.create(SimplePublicObjectInput(properties=properties)).id)
        if spec.sponsor:
            contact = self.client.crm.contacts.basic_api.create(
                SimplePublicObjectInput(
                    properties={"firstname": "Dana", "lastname": spec.name[:20]}
                )
            )
            spec_ = AssociationSpec(
                association_category=self.sponsor.category, association_type_id=self.sponsor.type_id
            )
            self.client.crm.associations.v4.basic_api.create(
                "deals", deal_id, "contacts", contact.id, [spec_]
            )
        return deal_id

    def close(self) -> None:
        """hubspot-api-client pools close with the client; nothing is held open here."""

    def set_operational_date(self, engagement_id: str, when: dt.date) -> None:
        self.deals.update(
            engagement_id,
            SimplePublicObjectInput(properties={"operational_date": when.isoformat()}),
        )

    def set_po_date(self, engagement_id: str, when: dt.date) -> None:
        closedate = f"{when.isoformat()}T00:00:00.000Z"
        self.deals.update(
            engagement_id, SimplePublicObjectInput(properties={"closedate": closedate})
        )

    def waive(self, engagement_id: str, waiver: str) -> None:
        self.deals.update(
            engagement_id, SimplePublicObjectInput(properties={"playbook_waiver": waiver})
        )

    def plugin_fields(self, engagement_id: str) -> tuple[str | None, str | None, int | None]:
        props = self.deals.get_by_id(
            engagement_id,
            properties=["playbook_health", "playbook_findings", "operational_date_slips"],
        ).properties
        slips = props.get("operational_date_slips")
        return (
            props.get("playbook_health") or None,
            props.get("playbook_findings") or None,
            None if slips in (None, "") else int(float(slips)),
        )

    def open_task_keys(self) -> list[str]:
        keys: list[str] = []
        after = None
        while True:
            page = self.client.crm.objects.tasks.basic_api.get_page(
                limit=100, after=after, properties=["servefirst_task_key", "hs_task_status"]
            )
            for task in page.results:
                key = task.properties.get("servefirst_task_key")
                if key and task.properties.get("hs_task_status") != "COMPLETED":
                    keys.append(key)
            if page.paging is None or page.paging.next is None:
                return keys
            after = page.paging.next.after

    def tasks(self) -> list[SeenTask]:
        seen: list[SeenTask] = []
        after = None
        names = ["servefirst_task_key", "hs_task_status", "hs_task_subject", "hs_task_body"]
        while True:
            page = self.client.crm.objects.tasks.basic_api.get_page(
                limit=100, after=after, properties=names
            )
            for task in page.results:
                p = task.properties
                if p.get("servefirst_task_key"):
                    seen.append(
                        SeenTask(
                            str(task.id),
                            p["servefirst_task_key"],
                            p.get("hs_task_status") != "COMPLETED",
                            p.get("hs_task_subject") or "",
                            p.get("hs_task_body") or "",
                        )
                    )
            if page.paging is None or page.paging.next is None:
                return seen
            after = page.paging.next.after

    def complete_task(self, task_id: str) -> None:
        self.client.crm.objects.tasks.basic_api.update(
            task_id, SimplePublicObjectInput(properties={"hs_task_status": "COMPLETED"})
        )

    def text_field(self, engagement_id: str, name: str) -> str | None:
        prop = {"timetable": "playbook_timetable", "waiver": "playbook_waiver"}[name]
        props = self.deals.get_by_id(engagement_id, properties=[prop]).properties
        return props.get(prop) or None


@dataclass
class CRM:
    """One sandboxed CRM, provisioned, with its settings, playbook and a rep."""

    name: str
    sandbox: RunningSandbox
    settings: Settings
    playbook: Playbook
    rep: Rep

    def make(self, **spec: Any) -> str:
        """Create an engagement from neutral fields (see ``Spec``), as a rep would."""
        return self.rep.create(Spec(**spec))


def _start(crm: str, workdir: Path) -> RunningSandbox:
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import start_sandbox as sf  # noqa: PLC0415

        return sf(workdir=workdir, seed="none", stages="servefirst")
    from servefirst.connectors.hubspot.sandbox import start_sandbox as hs  # noqa: PLC0415

    return hs(workdir=workdir, seed="none", rate_limits=False, search_lag_seconds=0.0)


@pytest.fixture(params=["salesforce", "hubspot"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CRM]:
    sandbox = _start(request.param, tmp_path / request.param)
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        rep: Rep = SalesforceRep(sandbox) if request.param == "salesforce" else HubSpotRep(sandbox)
        try:
            yield CRM(request.param, sandbox, settings, playbook, rep)
        finally:
            rep.close()
    finally:
        sandbox.stop()


@pytest.fixture(params=["salesforce", "hubspot"])
def bare_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningSandbox]:
    """An empty, unprovisioned sandbox of each CRM."""
    sandbox = _start(request.param, tmp_path / request.param)
    try:
        yield sandbox
    finally:
        sandbox.stop()
