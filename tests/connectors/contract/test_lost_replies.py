"""Writes whose reply is lost: the CRM carried them out, the connector never heard back.

The sandboxes' ``applied_reset`` and ``applied_status`` faults apply a request, then break the
connection or answer a 5xx. A create must not be sent again blindly: the connector looks it up
by its natural key first (a property's name, a pipeline's label, a field's developer name, a
task's key), so provisioning and task opening still land exactly once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.base import Plan, TaskOpen
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.model import DesiredTask, task_key
from servefirst.sync.connectors import open_connector
from servefirst.sync.service import provision_connection

TODAY = dt.datetime.now(dt.UTC).date()
SF_DATA = "/services/data/v59.0"
#: One lost reply for each kind of create provisioning makes, alternating how it is lost.
PROVISIONING_CREATES = {
    "salesforce": [
        f"{SF_DATA}/tooling/sobjects/CustomField",
        f"{SF_DATA}/sobjects/PermissionSet",
        f"{SF_DATA}/sobjects/FieldPermissions",
        f"{SF_DATA}/tooling/sobjects/PathAssistant",
    ],
    "hubspot": [
        "/crm/v3/properties/deals/groups",
        "/crm/v3/properties/deals",
        "/crm/v4/associations/deals/contacts/labels",
        "/crm/v3/pipelines/deals",
    ],
}


def _lose_replies(sandbox: RunningSandbox, prefixes: list[str], method: str = "POST") -> None:
    for n, prefix in enumerate(prefixes):
        if n % 2:
            sandbox.admin.inject("applied_status", status=502, path_prefix=prefix, method=method)
        else:
            sandbox.admin.inject("applied_reset", path_prefix=prefix, method=method)


def test_provisioning_lands_each_item_once_when_replies_are_lost(
    bare_sandbox: RunningSandbox,
) -> None:
    settings = load_settings(bare_sandbox.config_path)
    playbook = load_playbook(settings)
    _lose_replies(bare_sandbox, PROVISIONING_CREATES[bare_sandbox.crm])

    _, applied = provision_connection(settings, playbook, None, dry_run=False)

    assert bare_sandbox.admin.stats()["faults_fired"] == len(PROVISIONING_CREATES[bare_sandbox.crm])
    assert applied.changes
    _, again = provision_connection(settings, playbook, None, dry_run=True)
    assert [s for s in again.steps if s.action in ("create", "update")] == []
    if bare_sandbox.crm == "hubspot":
        assert _hubspot_pipelines(bare_sandbox).count("Serve-first") == 1


def test_a_task_open_whose_reply_is_lost_opens_one_task(crm: Any) -> None:
    engagement_id = crm.make(name="Lost reply", stage="diagnose", po_date=TODAY)
    task = DesiredTask(
        key=task_key(engagement_id, "sponsor_missing"),
        rule="sponsor_missing",
        subject="Name the sponsor",
        description="Who owns the problem with you?",
        due=TODAY + dt.timedelta(days=3),
    )
    if crm.name == "salesforce":
        _lose_replies(crm.sandbox, [f"{SF_DATA}/composite/sobjects/Task"], "PATCH")
    else:
        _lose_replies(crm.sandbox, ["/crm/v3/objects/tasks/batch/create"])
    name = next(iter(crm.settings.connections))
    connector = open_connector(
        name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir
    )
    try:
        result = connector.apply(Plan(task_opens=(TaskOpen(engagement_id, task),)))
    finally:
        connector.close()
    assert crm.sandbox.admin.stats()["faults_fired"] == 1
    assert [r.ok for r in result.results] == [True]
    assert crm.rep.open_task_keys() == [task.key]


def _hubspot_pipelines(sandbox: RunningSandbox) -> list[str]:
    import hubspot  # noqa: PLC0415 - only the HubSpot case needs it

    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url)
    return [p.label for p in client.crm.pipelines.pipelines_api.get_all("deals").results]
