"""A HubSpot rep's desk: deals, labelled contacts and tasks through hubspot-api-client."""

from __future__ import annotations

import datetime as dt
from typing import Any

import hubspot
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest as Fetch
from hubspot.crm.associations.v4 import PublicFetchAssociationsBatchRequest as FetchOne
from hubspot.crm.objects import BatchInputSimplePublicObjectId as Ids
from hubspot.crm.objects import SimplePublicObjectId as OneId
from hubspot.crm.objects import SimplePublicObjectInput as Props

from servefirst.config.settings import Settings
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.connectors.sandboxkit.desk import (
    EXTRA_FIELDS,
    OpenTask,
    Snapshot,
    day,
    key_parts,
    names,
    neutral_engagement,
    refs,
    stage_label,
    whole,
)
from servefirst.playbook.model import Health


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
            "dealname": f"Engagement {next(names)}",
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
                "deals",
                "contacts",
                batch_input_public_fetch_associations_batch_request=Fetch(inputs),
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
            parts = key_parts(key) if key else None
            if parts is not None and task.properties.get("hs_task_status") != "COMPLETED":
                open_tasks.append(OpenTask(parts[0], str(key), str(task.id)))
        sponsors = self._sponsors([str(d.id) for d in deals])
        engagements = {}
        for deal in deals:
            eid, p = str(deal.id), deal.properties
            values = {
                "name": p.get("dealname"),
                "owner_id": p.get("hubspot_owner_id") or None,
                "po_date": day(p.get(f.po_date)),
                "operational_date": day(p.get(f.operational_date)),
                "criteria": p.get(f.success_criteria),
                "confirmed": p.get(f.success_confirmed) == "true",
                "sponsors": sponsors.get(eid, []),
                "health": Health(p[f.health]) if p.get(f.health) else None,
                "findings": p.get(f.findings),
                "slips": whole(p.get(f.slips)),
                "tasks": refs(eid, open_tasks),
                **{n: p.get(getattr(f, n)) for n in EXTRA_FIELDS},
            }
            raw = self.stage_labels.get(p.get("dealstage") or "", p.get("dealstage") or "")
            engagements[eid] = neutral_engagement(self.crm, eid, raw, values)
        return Snapshot(engagements, open_tasks)

    def wipe(self) -> None:
        for api, rows in (
            (self.tasks.batch_api, self._all(self.tasks.basic_api, [])),
            (self.client.crm.deals.batch_api, self._all(self.deals, [])),
        ):
            for start in range(0, len(rows), 100):
                ids = [OneId(id=str(r.id)) for r in rows[start : start + 100]]
                api.archive(Ids(inputs=ids))
