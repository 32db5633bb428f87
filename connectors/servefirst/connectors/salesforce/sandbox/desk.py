"""A Salesforce rep's desk: opportunities, contact roles and tasks through simple-salesforce."""

from __future__ import annotations

import datetime as dt
from typing import Any

from servefirst.config.settings import Settings
from servefirst.connectors.salesforce.sandbox.testing import connect
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
    wire,
)
from servefirst.playbook.model import Health

_HEALTH = {"On track": Health.ON_TRACK, "At risk": Health.AT_RISK, "Off track": Health.OFF_TRACK}


class SalesforceDesk:
    """Opportunities, contact roles and tasks through simple-salesforce."""

    crm = "salesforce"

    def __init__(self, sandbox: RunningSandbox, settings: Settings) -> None:
        self.sf: Any = connect(sandbox)
        conn = next(iter(settings.connections.values()))
        self.f: Any = conn.fields
        self.role = str(getattr(conn, "sponsor_role", "Executive Sponsor"))

    def close(self) -> None:
        self.sf.session.close()

    def create(self, stage: str, po: dt.date, op: dt.date | None, criteria: str | None) -> str:
        record = {
            "Name": f"Engagement {next(names)}",
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
        record = {names[k]: wire(k, v) for k, v in values.items()}
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
            parts = key_parts(task[f.task_key])
            if parts is not None:
                open_tasks.append(OpenTask(parts[0], task[f.task_key], task["Id"]))
        engagements = {}
        for row in rows:
            roles = (row.get("OpportunityContactRoles") or {}).get("records") or []
            values = {
                "name": row["Name"],
                "owner_id": row.get("OwnerId"),
                "po_date": day(row.get(f.po_date)),
                "operational_date": day(row.get(f.operational_date)),
                "criteria": row.get(f.success_criteria),
                "confirmed": row.get(f.success_confirmed),
                "sponsors": [r["ContactId"] for r in roles if r.get("Role") == self.role],
                "health": _HEALTH.get(row.get(f.health) or ""),
                "findings": row.get(f.findings),
                "slips": whole(row.get(f.slips)),
                "tasks": refs(row["Id"], open_tasks),
                **{n: row.get(getattr(f, n)) for n in EXTRA_FIELDS},
            }
            engagements[row["Id"]] = neutral_engagement(
                self.crm, row["Id"], row["StageName"], values
            )
        return Snapshot(engagements, open_tasks)

    def wipe(self) -> None:
        f = self.f
        ids = [r["Id"] for r in self._query(f"SELECT Id FROM Task WHERE {f.task_key} != null")]  # noqa: S608
        ids += [r["Id"] for r in self._query("SELECT Id FROM Opportunity")]
        for start in range(0, len(ids), 200):
            chunk = ",".join(ids[start : start + 200])
            self.sf.restful(f"composite/sobjects?ids={chunk}", method="DELETE")
