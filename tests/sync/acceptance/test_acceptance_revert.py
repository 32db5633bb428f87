"""``runs revert`` on both CRM sandboxes: exactly what the run changed comes back, nothing else.

What the CRM holds is read through its own client library before and after, never through
servefirst's state.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import hubspot
from hubspot.crm.objects import SimplePublicObjectInput
from typer.testing import CliRunner

from servefirst.sync.cli import app

if TYPE_CHECKING:
    from tests.sync.acceptance.conftest import Driver

TODAY = dt.datetime.now(dt.UTC).date()
FIELDS = {
    "salesforce": ("Playbook_Health__c", "Playbook_Findings__c", "Operational_Date_Slips__c"),
    "hubspot": ("playbook_health", "playbook_findings", "operational_date_slips"),
}
REP_NOTE = "Manager agreed: holding until the plant shutdown ends"


def cli(crm: Driver, *args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(app, [*args, "-c", str(crm.sandbox.config_path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    doc = json.loads(result.stdout) if "--json" in args else {}
    return result.exit_code, doc, result.stdout


class Crm:
    """Read and edit one engagement's plugin-owned fields through the CRM's own client."""

    def __init__(self, crm: Driver) -> None:
        self.crm = crm
        self.names = FIELDS[crm.crm]
        self.hs: Any = None
        if crm.crm == "hubspot":
            self.hs = hubspot.Client.create(access_token=crm.sandbox.token, host=crm.sandbox.url)

    def fields(self, record_id: str) -> dict[str, Any]:
        if self.hs is None:
            row = self.crm.client.Opportunity.get(record_id)  # type: ignore[attr-defined]
            values = {n: row[n] for n in self.names}
        else:
            deal = self.hs.crm.deals.basic_api.get_by_id(record_id, properties=list(self.names))
            values = {n: deal.properties.get(n) for n in self.names}
        return {n: _plain(v) for n, v in values.items()}

    def set_findings(self, record_id: str, text: str) -> None:
        name = self.names[1]
        if self.hs is None:
            self.crm.client.Opportunity.update(record_id, {name: text})  # type: ignore[attr-defined]
        else:
            body = SimplePublicObjectInput(properties={name: text})
            self.hs.crm.deals.basic_api.update(record_id, body)

    def close(self) -> None:
        if self.hs is not None:
            self.hs.crm.deals.basic_api.api_client.rest_client.pool_manager.clear()


def _plain(value: Any) -> Any:
    """HubSpot returns every property as text, Salesforce numbers as floats: compare as text."""
    if value in (None, ""):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_revert_restores_what_the_run_changed_and_keeps_a_later_edit(crm: Driver) -> None:
    reader = Crm(crm)
    try:
        _story(crm, reader)
    finally:
        reader.close()


def _story(crm: Driver, reader: Crm) -> None:
    assert cli(crm, "provision")[0] == 0
    assert cli(crm, "sync")[0] == 0
    tasks_after_first = sorted(crm.open_task_keys())
    key = next(k for k in tasks_after_first if k.endswith(":timetable"))  # the date task
    record_id = key.split(":")[1]
    before = reader.fields(record_id)

    # A rep agrees the Operational Date; the next sync rewrites the record and closes the task.
    crm.set_operational_date(record_id, TODAY + dt.timedelta(days=400))
    code, second, _ = cli(crm, "sync", "--json")
    assert code == 0
    assert second["counts"]["tasks_closed"] >= 1
    tasks_after_second = sorted(crm.open_task_keys())
    assert key not in tasks_after_second
    after = reader.fields(record_id)
    health, findings, _ = reader.names
    assert after[health] != before[health]
    # Later, a rep overwrites a field that run wrote: the revert must keep it.
    reader.set_findings(record_id, REP_NOTE)

    code, dry, _ = cli(crm, "runs", "revert", str(second["run_id"]), "--dry-run", "--json")
    assert code == 0
    assert dry["status"] == "dry_run"
    assert reader.fields(record_id)[health] == after[health]  # a dry run writes nothing
    assert sorted(crm.open_task_keys()) == tasks_after_second

    code, revert, _ = cli(crm, "runs", "revert", str(second["run_id"]), "--json")
    assert code == 0, revert
    assert revert["status"] == "ok"
    now = reader.fields(record_id)
    assert now[health] == before[health]
    assert now[findings] == REP_NOTE  # the later edit is kept...
    kept = [(i["record_id"], i["name"]) for i in revert["left_alone"]]
    assert (record_id, "findings") in kept  # ...and reported
    assert sorted(crm.open_task_keys()) == tasks_after_first  # the closed task is open again
    assert crm.operational_dates()[record_id] == TODAY + dt.timedelta(days=400)  # rep-owned

    _, shown, _ = cli(crm, "runs", "show", str(revert["run_id"]), "--json")
    assert shown["reverts_run_id"] == second["run_id"]
    names = {c["engagement"] for c in shown["changes"]}
    assert None not in names
    _, _, text = cli(crm, "runs", "show", str(revert["run_id"]))
    assert all(name.split()[0] in text for name in names)  # people read names, not ids
    _, _, listing = cli(crm, "runs", "list")
    assert f"revert of run {second['run_id']}" in listing

    # A revert is a run like any other: reverting it puts the second sync's work back.
    code, again, _ = cli(crm, "runs", "revert", str(revert["run_id"]), "--json")
    assert code == 0, again
    assert reader.fields(record_id)[health] == after[health]
    assert reader.fields(record_id)[findings] == REP_NOTE
    assert sorted(crm.open_task_keys()) == tasks_after_second
