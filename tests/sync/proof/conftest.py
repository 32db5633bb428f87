"""Both sandboxes behind one rep's desk: edits as a rep makes them, reads as a full scan would.

A ``Desk`` talks to its CRM only through the real client library (simple-salesforce,
hubspot-api-client), never through servefirst's connectors, and maps what it reads onto the
neutral model with its own few lines, so the proof's expected state shares no code with the
sync it checks except the playbook itself.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hubspot
import pytest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest as Fetch
from hubspot.crm.associations.v4 import PublicFetchAssociationsBatchRequest as FetchOne
from hubspot.crm.objects import BatchInputSimplePublicObjectId as Ids
from hubspot.crm.objects import SimplePublicObjectId as OneId
from hubspot.crm.objects import SimplePublicObjectInput as Props

from servefirst.config.loader import load_playbook, load_settings
from servefirst.config.settings import Settings
from servefirst.connectors.base import PLUGIN_FIELDS
from servefirst.connectors.salesforce.sandbox.testing import connect as salesforce_client
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.checklist import parse_checklist
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement, Health, PluginFields, Sponsor, Status, TaskRef
from servefirst.sync.service import provision_connection

STAGES = ("discover", "diagnose", "design", "deliver", "won", "lost")
_LABELS = {"won": "Closed Won", "lost": "Closed Lost"}
_STATUS = {"won": Status.WON, "lost": Status.LOST}
_SF_HEALTH = {"On track": Health.ON_TRACK, "At risk": Health.AT_RISK, "Off track": Health.OFF_TRACK}
_names = itertools.count(1)
#: Plugin-owned text fields beyond the three every connector has had (e.g. a timetable).
EXTRA_FIELDS = tuple(n for n in PLUGIN_FIELDS if n not in ("health", "findings", "slips"))


def stage_label(stage: str) -> str:
    return _LABELS.get(stage, stage.capitalize())


def _key_parts(key: str) -> tuple[str, str] | None:
    parts = key.split(":")
    return (parts[1], parts[2]) if len(parts) == 3 and parts[0] == "servefirst" else None


@dataclass(frozen=True)
class OpenTask:
    engagement_id: str
    key: str
    task_id: str


@dataclass(frozen=True)
class Snapshot:
    """Everything a full scan reads: engagements (with what they hold now) and open tasks."""

    engagements: dict[str, Engagement]
    open_tasks: list[OpenTask]


def _engagement(crm: str, eid: str, stage_raw: str, values: dict[str, Any]) -> Engagement:
    stage = next((s for s in STAGES if stage_label(s) == stage_raw), None)
    sponsor = f"Sponsor of {values.get('name')}"
    return Engagement(
        id=eid,
        crm=crm,
        name=str(values.get("name") or ""),
        owner_id=values.get("owner_id"),
        stage=stage,
        raw_stage=stage_raw,
        status=_STATUS.get(stage or "", Status.OPEN),
        po_date=values.get("po_date"),
        operational_date=values.get("operational_date"),
        success_criteria=parse_checklist(str(values.get("criteria") or "")),
        success_confirmed=bool(values.get("confirmed")),
        sponsors=tuple(Sponsor(contact_id=c, name=sponsor) for c in values.get("sponsors", ())),
        current=PluginFields(
            health=values.get("health"),
            findings=values.get("findings") or None,
            slips=values.get("slips"),
            **{name: values.get(name) or None for name in EXTRA_FIELDS},
        ),
        open_tasks=tuple(values.get("tasks", ())),
    )


def _day(raw: object) -> dt.date | None:
    return dt.date.fromisoformat(str(raw)[:10]) if raw else None


def _whole(raw: object) -> int | None:
    return None if raw in (None, "") else int(float(str(raw)))


class SalesforceDesk:
    """Opportunities, contact roles and tasks through simple-salesforce."""

    crm = "salesforce"

    def __init__(self, sandbox: RunningSandbox, settings: Settings) -> None:
        self.sf: Any = salesforce_client(sandbox)
        conn = next(iter(settings.connections.values()))
        self.f: Any = conn.fields
        self.role = str(getattr(conn, "sponsor_role", "Executive Sponsor"))

    def close(self) -> None:
        self.sf.session.close()

    def create(self, stage: str, po: dt.date, op: dt.date | None, criteria: str | None) -> str:
        record = {
            "Name": f"Engagement {next(_names)}",
            "StageName": stage_label(stage),
            self.f.po_date: po.isoformat(),
            self.f.operational_date: op.isoformat() if op else None,
            self.f.success_criteria: criteria,
        }
        return str(self.sf.Opportunity.create(record)["id"])

    def delete(self, eid: str) -> None:
        self.sf.Opportunity.delete(eid)

    def update(self, eid: str, **values: Any) -> None:
        names = {
            "stage": "StageName",
            "po": self.f.po_date,
            "op": self.f.operational_date,
            "criteria": self.f.success_criteria,
            "confirmed": self.f.success_confirmed,
        }
        record = {names[k]: _wire(k, v) for k, v in values.items()}
        self.sf.Opportunity.update(eid, record)

    def add_sponsor(self, eid: str) -> None:
        name = self.sf.Opportunity.get(eid)["Name"]
        contact = self.sf.Contact.create({"LastName": f"Sponsor of {name}"})
        role = {"OpportunityId": eid, "ContactId": contact["id"], "Role": self.role}
        self.sf.OpportunityContactRole.create(role)

    def remove_sponsor(self, eid: str) -> bool:
        rows = self._query(
            f"SELECT Id FROM OpportunityContactRole WHERE OpportunityId = '{eid}'"  # noqa: S608
        )
        for row in rows[:1]:
            self.sf.OpportunityContactRole.delete(row["Id"])
        return bool(rows)

    def complete_task(self, task_id: str) -> None:
        self.sf.Task.update(task_id, {"Status": "Completed"})

    def _query(self, soql: str) -> list[dict[str, Any]]:
        return list(self.sf.query_all(soql)["records"])

    def snapshot(self) -> Snapshot:
        f = self.f
        fields = [f.po_date, f.operational_date, f.success_criteria, f.success_confirmed]
        fields += [f.health, f.findings, f.slips, *(getattr(f, n) for n in EXTRA_FIELDS)]
        rows = self._query(
            f"SELECT Id, Name, OwnerId, StageName, {', '.join(fields)},"  # noqa: S608
            " (SELECT ContactId, Role FROM OpportunityContactRoles) FROM Opportunity"
        )
        tasks = self._query(
            f"SELECT Id, {f.task_key} FROM Task WHERE IsClosed = false"  # noqa: S608
            f" AND {f.task_key} != null"
        )
        open_tasks = []
        for task in tasks:
            parts = _key_parts(task[f.task_key])
            if parts is not None:
                open_tasks.append(OpenTask(parts[0], task[f.task_key], task["Id"]))
        engagements = {}
        for row in rows:
            roles = (row.get("OpportunityContactRoles") or {}).get("records") or []
            values = {
                "name": row["Name"],
                "owner_id": row.get("OwnerId"),
                "po_date": _day(row.get(f.po_date)),
                "operational_date": _day(row.get(f.operational_date)),
                "criteria": row.get(f.success_criteria),
                "confirmed": row.get(f.success_confirmed),
                "sponsors": [r["ContactId"] for r in roles if r.get("Role") == self.role],
                "health": _SF_HEALTH.get(row.get(f.health) or ""),
                "findings": row.get(f.findings),
                "slips": _whole(row.get(f.slips)),
                "tasks": _refs(row["Id"], open_tasks),
                **{n: row.get(getattr(f, n)) for n in EXTRA_FIELDS},
            }
            engagements[row["Id"]] = _engagement(self.crm, row["Id"], row["StageName"], values)
        return Snapshot(engagements, open_tasks)

    def wipe(self) -> None:
        f = self.f
        ids = [r["Id"] for r in self._query(f"SELECT Id FROM Task WHERE {f.task_key} != null")]  # noqa: S608
        ids += [r["Id"] for r in self._query("SELECT Id FROM Opportunity")]
        for start in range(0, len(ids), 200):
            chunk = ",".join(ids[start : start + 200])
            self.sf.restful(f"composite/sobjects?ids={chunk}", method="DELETE")


def _wire(name: str, value: Any) -> Any:
    if name == "stage":
        return stage_label(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _refs(eid: str, tasks: list[OpenTask]) -> list[TaskRef]:
    out = []
    for task in tasks:
        parts = _key_parts(task.key)
        if task.engagement_id == eid and parts is not None:
            out.append(TaskRef(key=task.key, rule=parts[1], task_id=task.task_id))
    return out


class HubSpotDesk:
    """Deals, labelled contact associations and tasks through hubspot-api-client."""

    crm = "hubspot"

    def __init__(self, sandbox: RunningSandbox, settings: Settings) -> None:
        self.client: Any = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
        conn: Any = next(iter(settings.connections.values()))
        self.f: Any = conn.fields
        self.deals = self.client.crm.deals.basic_api
        self.tasks = self.client.crm.objects.tasks
        self.assoc = self.client.crm.associations.v4
        pipelines = self.client.crm.pipelines.pipelines_api.get_all("deals").results
        pipeline = next(p for p in pipelines if p.label == "Serve-first")
        self.pipeline_id = pipeline.id
        self.stage_ids = {s.label: s.id for s in pipeline.stages}
        self.stage_labels = {s.id: s.label for s in pipeline.stages}
        labels = self.assoc.schema.definitions_api.get_all("deals", "contacts").results
        self.sponsor = next(x for x in labels if x.label == conn.sponsor_label)

    def close(self) -> None:
        """hubspot-api-client pools close with the client; nothing is held open here."""

    def create(self, stage: str, po: dt.date, op: dt.date | None, criteria: str | None) -> str:
        props = {
            "dealname": f"Engagement {next(_names)}",
            "pipeline": self.pipeline_id,
            "dealstage": self.stage_ids[stage_label(stage)],
            self.f.po_date: f"{po.isoformat()}T00:00:00.000Z",
            self.f.operational_date: op.isoformat() if op else "",
            self.f.success_criteria: criteria or "",
        }
        return str(self.deals.create(Props(properties=props)).id)

    def delete(self, eid: str) -> None:
        self.deals.archive(eid)

    def update(self, eid: str, **values: Any) -> None:
        props: dict[str, str] = {}
        for name, value in values.items():
            if name == "stage":
                props["dealstage"] = self.stage_ids[stage_label(value)]
            elif name == "po":
                props[self.f.po_date] = f"{value.isoformat()}T00:00:00.000Z"
            elif name == "op":
                props[self.f.operational_date] = value.isoformat() if value else ""
            elif name == "criteria":
                props[self.f.success_criteria] = value or ""
            elif name == "confirmed":
                props[self.f.success_confirmed] = "true" if value else "false"
        self.deals.update(eid, Props(properties=props))

    def add_sponsor(self, eid: str) -> None:
        name = self.deals.get_by_id(eid, properties=["dealname"]).properties["dealname"]
        contact = self.client.crm.contacts.basic_api.create(
            Props(properties={"lastname": f"Sponsor of {name}"})
        )
        spec = AssociationSpec(
            association_category=self.sponsor.category, association_type_id=self.sponsor.type_id
        )
        self.assoc.basic_api.create("deals", eid, "contacts", contact.id, [spec])

    def remove_sponsor(self, eid: str) -> bool:
        """Remove a sponsor's contact from the deal (a change HubSpot stamps on the deal)."""
        sponsors = self._sponsors([eid]).get(eid, [])
        if sponsors:
            self.assoc.basic_api.archive("deals", eid, "contacts", sponsors[0])
        return bool(sponsors)

    def complete_task(self, task_id: str) -> None:
        self.tasks.basic_api.update(task_id, Props(properties={"hs_task_status": "COMPLETED"}))

    def _sponsors(self, deal_ids: list[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for start in range(0, len(deal_ids), 100):
            inputs = [FetchOne(id=i) for i in deal_ids[start : start + 100]]
            reply = self.assoc.batch_api.get_page(
                "deals", "contacts", batch_input_public_fetch_associations_batch_request=Fetch(inputs)
            )
            for result in reply.results:
                for to in result.to:
                    if any(t.type_id == self.sponsor.type_id for t in to.association_types):
                        found.setdefault(str(result._from.id), []).append(str(to.to_object_id))
        return found

    def _all(self, api: Any, properties: list[str]) -> list[Any]:
        rows: list[Any] = []
        after = None
        while True:
            page = api.get_page(limit=100, after=after, properties=properties)
            rows.extend(page.results)
            if page.paging is None or page.paging.next is None:
                return rows
            after = page.paging.next.after

    def snapshot(self) -> Snapshot:
        f = self.f
        names = [f.po_date, f.operational_date, f.success_criteria, f.success_confirmed]
        names += [f.health, f.findings, f.slips, "dealstage", "dealname", "hubspot_owner_id"]
        names += [getattr(f, n) for n in EXTRA_FIELDS]
        deals = self._all(self.deals, names)
        tasks = self._all(self.tasks.basic_api, [f.task_key, "hs_task_status"])
        open_tasks = []
        for task in tasks:
            key = task.properties.get(f.task_key)
            parts = _key_parts(key) if key else None
            if parts is not None and task.properties.get("hs_task_status") != "COMPLETED":
                open_tasks.append(OpenTask(parts[0], str(key), str(task.id)))
        sponsors = self._sponsors([str(d.id) for d in deals])
        engagements = {}
        for deal in deals:
            eid, p = str(deal.id), deal.properties
            values = {
                "name": p.get("dealname"),
                "owner_id": p.get("hubspot_owner_id") or None,
                "po_date": _day(p.get(f.po_date)),
                "operational_date": _day(p.get(f.operational_date)),
                "criteria": p.get(f.success_criteria),
                "confirmed": p.get(f.success_confirmed) == "true",
                "sponsors": sponsors.get(eid, []),
                "health": Health(p[f.health]) if p.get(f.health) else None,
                "findings": p.get(f.findings),
                "slips": _whole(p.get(f.slips)),
                "tasks": _refs(eid, open_tasks),
                **{n: p.get(getattr(f, n)) for n in EXTRA_FIELDS},
            }
            raw = self.stage_labels.get(p.get("dealstage") or "", p.get("dealstage") or "")
            engagements[eid] = _engagement(self.crm, eid, raw, values)
        return Snapshot(engagements, open_tasks)

    def wipe(self) -> None:
        for api, rows in (
            (self.tasks.batch_api, self._all(self.tasks.basic_api, [])),
            (self.client.crm.deals.batch_api, self._all(self.deals, [])),
        ):
            for start in range(0, len(rows), 100):
                ids = [OneId(id=str(r.id)) for r in rows[start : start + 100]]
                api.archive(Ids(inputs=ids))


@dataclass
class CRM:
    """One provisioned sandbox with its settings, playbook and desk."""

    name: str
    sandbox: RunningSandbox
    settings: Settings
    playbook: Playbook
    desk: SalesforceDesk | HubSpotDesk
    workdir: Path


def _start(crm: str, workdir: Path) -> RunningSandbox:
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import start_sandbox as sf  # noqa: PLC0415

        return sf(workdir=workdir, seed="none")
    from servefirst.connectors.hubspot.sandbox import start_sandbox as hs  # noqa: PLC0415

    return hs(workdir=workdir, seed="none")


@pytest.fixture(scope="module", params=["salesforce", "hubspot"])
def proof_crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CRM]:
    """A provisioned sandbox per CRM, shared by every example (each one wipes it first)."""
    workdir = tmp_path_factory.mktemp(f"proof-{request.param}")
    sandbox = _start(request.param, workdir / "sandbox")
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        desk: SalesforceDesk | HubSpotDesk
        if request.param == "salesforce":
            desk = SalesforceDesk(sandbox, settings)
        else:
            desk = HubSpotDesk(sandbox, settings)
        try:
            yield CRM(request.param, sandbox, settings, playbook, desk, workdir)
        finally:
            desk.close()
    finally:
        sandbox.stop()
