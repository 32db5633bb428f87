"""Who may edit the waiver field: the permission set the playbook names, and nobody else.

A waiver takes a finding out of a rep's hands, so only the people the playbook names
(``waivers.who_may_waive``, e.g. "Sales Manager") may write it. Salesforce expresses that with
field-level security: a permission set of that name (or label) grants read and edit on the
field, servefirst's own permission set only reads it, and any other permission set or profile
that grants edit is reported for an admin to remove. Assigning the permission set to the right
managers is the admin's job; the plan says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from simple_salesforce.format import format_soql

from servefirst.connectors.base import ProvisionStep
from servefirst.connectors.salesforce.client import SalesforceClient, restful
from servefirst.connectors.salesforce.creates import create_record
from servefirst.connectors.salesforce.fields import FieldSpec

Step = ProvisionStep


def permission_set_name(who: str) -> str:
    """The API name of a permission set for ``who``: ``Sales Manager`` -> ``Sales_Manager``."""
    name = "_".join(re.findall(r"[A-Za-z0-9]+", who)) or "Waiver"
    return name if name[0].isalpha() else f"X{name}"


def grant_step(field: str, row: Mapping[str, Any] | None, edit: bool) -> Step:
    """The step that makes a permission set's grant on ``field`` read (and edit iff ``edit``)."""
    want = "read and edit" if edit else "read only"
    if (
        row is not None
        and bool(row.get("PermissionsRead"))
        and bool(row.get("PermissionsEdit")) == edit
    ):
        return Step("permission", field, "none", f"{want} granted")
    return Step("permission", field, "update" if row is not None else "create", f"grant {want}")


def _query(client: SalesforceClient, soql: str) -> list[dict[str, Any]]:
    page = client.call("query", lambda sf: sf.query(soql))
    return list(page.get("records") or [])


def waiver_steps(
    client: SalesforceClient,
    spec: FieldSpec,
    who: str,
    *,
    integration: str,
    dry_run: bool,
) -> list[Step]:
    """Plan (and unless ``dry_run`` apply) who may edit the waiver field.

    ``integration`` is servefirst's own permission set, which reads the field (granted with the
    other fields) and is not counted among those who may edit it.
    """
    field = spec.permission_fields()[0]
    name = permission_set_name(who)
    rows = _query(
        client,
        format_soql("SELECT Id, Name FROM PermissionSet WHERE Name = {} OR Label = {}", name, who),
    )
    steps: list[Step] = []
    approvers = str(rows[0]["Id"]) if rows else None
    if approvers is None:
        steps.append(
            Step("permission", name, "create", f"permission set for '{who}': may waive findings")
        )
        if not dry_run:
            approvers = create_record(
                client,
                "PermissionSet",
                {
                    "Name": name,
                    "Label": who,
                    "Description": "May waive serve-first playbook findings: edits the "
                    f"{spec.metadata['label']} field.",
                },
                format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", name),
            )
    grants = _query(
        client,
        format_soql(
            "SELECT Id, ParentId, Parent.Name, PermissionsRead, PermissionsEdit "
            "FROM FieldPermissions WHERE Field = {}",
            field,
        ),
    )
    ours = next((g for g in grants if approvers and g.get("ParentId") == approvers), None)
    step = grant_step(field, ours, edit=True)
    if step.action != "none" and not dry_run:
        values = {"PermissionsRead": True, "PermissionsEdit": True}
        if ours is not None:
            path = f"sobjects/FieldPermissions/{ours['Id']}"
            client.call("update", restful(path, method="PATCH", payload=values))
        else:
            target = {"ParentId": approvers, "SobjectType": spec.table, "Field": field}
            key = format_soql(
                "SELECT Id FROM FieldPermissions WHERE ParentId = {} AND Field = {}",
                approvers,
                field,
            )
            create_record(client, "FieldPermissions", target | values, key)
    steps.append(
        Step(
            "permission",
            f"{field} -> {name}",
            step.action,
            f"{step.detail}; only '{who}' may waive: assign the permission set {name} to the "
            "managers who waive findings",
        )
    )
    for grant in grants:
        parent = str((grant.get("Parent") or {}).get("Name") or grant.get("ParentId"))
        if grant.get("PermissionsEdit") and grant is not ours and parent not in (name, integration):
            steps.append(
                Step(
                    "permission",
                    f"{field} -> {parent}",
                    "manual",
                    f"{parent} also lets its users edit {field}: remove that edit access in "
                    f"Setup so that only '{who}' waives findings",
                )
            )
    return steps
