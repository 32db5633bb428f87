"""Sales Path guidance per stage: the playbook's coaching where reps see it, on the deal.

A Path (Tooling API ``PathAssistant``, API 36+) shows each Opportunity stage with the key
fields to fill and a "guidance for success" panel. servefirst fills it from the playbook: each
stage's guidance and exit criteria, and the fields its rules expect from that stage on, so a
rep learns what the sponsor needs before a sync has to flag it. A Path is a nicety, not a
requirement: an org that refuses it (Path not enabled, an edition without it, another active
path) gets a ``manual`` step explaining what to do in Setup, never a failed provisioning run.

``path_spec`` and ``path_differences`` are pure; ``provision_path`` reads, compares and writes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from servefirst.connectors.base import ProvisionStep
from servefirst.connectors.salesforce.client import SalesforceClient, tooling
from servefirst.connectors.salesforce.creates import create_metadata
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.retry import describe, error_items
from servefirst.playbook.definition import Playbook

PATH_NAME = "ServeFirst_Path"
PATH_LABEL = "Serve-first"
#: Salesforce's limits per step: key fields, and characters of guidance for success.
KEY_FIELDS_MAX = 5
INFO_MAX = 1000
SETUP = "Setup > Path Settings"
#: (rule, field setting): the field matters from the rule's ``from_stage`` on, if it is enabled.
STAGE_FIELDS = (
    ("operational_date_missing", "operational_date"),
    ("success_criteria_missing", "success_criteria"),
)
#: Fields that matter once won, beyond those: (rule, field setting).
WON_FIELDS = (("success_unconfirmed", "success_confirmed"),)
WON_GUIDANCE = (
    "Won is where serving starts: deliver what was agreed and measure it against your "
    "sponsor's success criteria. Tick Success Confirmed once your sponsor confirms the "
    "solution, in operation, meets them."
)
#: Path metadata compared as values; steps are compared one by one.
COMPARED = ("active", "masterLabel", "entityName", "fieldName", "recordTypeName")
#: Every path of the org (a handful): the name is unique across objects, and another active
#: Opportunity path for all record types would make Salesforce refuse ours.
_PATHS_SOQL = (
    "SELECT Id, DeveloperName, MasterLabel, SobjectType, IsActive, RecordTypeId FROM PathAssistant"
)
_KEY = PATH_NAME.casefold()


@dataclass(frozen=True)
class PathSpec:
    """The PathAssistant servefirst wants, and the playbook stages the org lacks."""

    metadata: dict[str, Any]
    skipped: tuple[str, ...] = ()

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.metadata["pathAssistantSteps"])

    @property
    def summary(self) -> str:
        values = ", ".join(s["picklistValueName"] for s in self.steps) or "no stage"
        text = f"stage guidance and key fields on Opportunity for {values}"
        if self.skipped:
            text += f"; skipped (no such active stage in the org): {', '.join(self.skipped)}"
        return text


def path_spec(
    mapping: SalesforceMapping, playbook: Playbook, stage_rows: Iterable[Mapping[str, Any]]
) -> PathSpec:
    """One step per playbook stage the org has (open stages, then won), in playbook order."""
    available = {
        str(r.get("ApiName")).casefold(): str(r.get("ApiName"))
        for r in stage_rows
        if r.get("IsActive")
    }
    wanted: list[tuple[str, list[str], str]] = []
    for index, stage in enumerate(playbook.stages):
        fields = _fields_from(playbook, mapping, STAGE_FIELDS, index)
        wanted.append((stage.key, fields, _info(stage.guidance, stage.exit_criteria)))
    won_fields = _fields_from(playbook, mapping, STAGE_FIELDS + WON_FIELDS, None)
    wanted.append(("won", won_fields, _info(WON_GUIDANCE, ())))
    steps, skipped = [], []
    for key, fields, info in wanted:
        value = available.get(mapping.stages[key].casefold())
        if value is None:
            skipped.append(key)
            continue
        steps.append(
            {"picklistValueName": value, "fieldNames": fields[:KEY_FIELDS_MAX], "info": info}
        )
    metadata = {
        "active": True,
        "entityName": "Opportunity",
        "fieldName": "StageName",
        "masterLabel": PATH_LABEL,
        "recordTypeName": "__MASTER__",
        "pathAssistantSteps": steps,
    }
    return PathSpec(metadata, tuple(skipped))


def _fields_from(
    playbook: Playbook,
    mapping: SalesforceMapping,
    table: Sequence[tuple[str, str]],
    stage_index: int | None,
) -> list[str]:
    """Fields of the enabled rules that apply at ``stage_index`` (``None``: once won)."""
    fields = []
    for rule_id, setting in table:
        rule = playbook.rules.get(rule_id)
        if rule is None or not rule.enabled:
            continue
        start = playbook.stage_index(rule.from_stage) if rule.from_stage else 0
        name = str(getattr(mapping.fields, setting))
        if (stage_index is None or start <= stage_index) and name not in fields:
            fields.append(name)
    return fields


def _info(guidance: str, criteria: Sequence[str]) -> str:
    """Rich-text guidance within ``INFO_MAX``: last criteria dropped first, then text cut."""
    items = list(criteria)
    while items and len(_html(guidance, items)) > INFO_MAX:
        items.pop()
    text = guidance.strip()
    while len(_html(text, items)) > INFO_MAX:
        overflow = len(_html(text, items)) - INFO_MAX
        text = text[: len(text) - overflow - 1].rstrip() + "…"
    return _html(text, items)


def _html(guidance: str, criteria: Sequence[str]) -> str:
    text = f"<p>{html.escape(' '.join(guidance.split()))}</p>"
    if criteria:
        items = "".join(f"<li>{html.escape(c)}</li>" for c in criteria)
        text += f"<p><b>Before moving on:</b></p><ul>{items}</ul>"
    return text


def _plain(info: Any) -> str:
    """Guidance as text: Salesforce may rewrite rich-text markup, never the words."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(info or ""))).split())


def path_differences(spec: PathSpec, existing: Mapping[str, Any]) -> list[str]:
    """What differs from the spec; steps of stages servefirst does not manage are ignored."""
    diffs = [k for k in COMPARED if existing.get(k) != spec.metadata[k]]
    current = {
        str(s.get("picklistValueName")).casefold(): s
        for s in existing.get("pathAssistantSteps") or []
        if isinstance(s, Mapping)
    }
    for step in spec.steps:
        found = current.get(step["picklistValueName"].casefold())
        if (
            found is None
            or list(found.get("fieldNames") or []) != step["fieldNames"]
            or _plain(found.get("info")) != _plain(step["info"])
        ):
            diffs.append(f"step {step['picklistValueName']}")
    return diffs


def merged(spec: PathSpec, existing: Mapping[str, Any]) -> dict[str, Any]:
    """The spec, keeping an admin's own steps for stages servefirst leaves alone."""
    ours = {s["picklistValueName"].casefold() for s in spec.steps}
    theirs = [
        s
        for s in existing.get("pathAssistantSteps") or []
        if isinstance(s, Mapping) and str(s.get("picklistValueName")).casefold() not in ours
    ]
    kept = {k: v for k, v in existing.items() if k != "fullName"}
    return kept | spec.metadata | {"pathAssistantSteps": spec.steps + theirs}


def provision_path(client: SalesforceClient, spec: PathSpec, *, dry_run: bool) -> ProvisionStep:
    """Create or update the servefirst path; a refusal becomes a ``manual`` step."""
    try:
        return _provision(client, spec, dry_run)
    except SalesforceError as exc:
        return _manual(
            f"Salesforce refused the path ({describe(exc)}). Turn Path on in {SETUP} "
            "(Quick Find: Path Settings) > Enable, then run provisioning again. servefirst "
            "works without it; reps just miss the stage guidance on their deals"
        )


def _manual(detail: str) -> ProvisionStep:
    return ProvisionStep("path", PATH_NAME, "manual", detail)


def _provision(client: SalesforceClient, spec: PathSpec, dry_run: bool) -> ProvisionStep:
    page = client.call("tooling query", tooling("GET", "query/", params={"q": _PATHS_SOQL}))
    rows = list(page.get("records") or [])
    ours = next((r for r in rows if str(r.get("DeveloperName")).casefold() == _KEY), None)
    for row in rows:
        if row is ours or row.get("SobjectType") != "Opportunity":
            continue
        if row.get("IsActive") and not row.get("RecordTypeId"):
            return _manual(
                f"Opportunity already has an active path for all record types, "
                f"'{row.get('MasterLabel')}' ({row.get('DeveloperName')}), and Salesforce "
                f"allows one; servefirst leaves it alone. Deactivate it in {SETUP} and run "
                "provisioning again, or add the playbook's stage guidance to it there"
            )
    body = {"FullName": PATH_NAME, "Metadata": spec.metadata}
    if ours is None:
        if not dry_run:
            _create(client, body)
        return ProvisionStep("path", PATH_NAME, "create", spec.summary)
    path_id = str(ours["Id"])
    current = client.call("tooling read", tooling("GET", f"sobjects/PathAssistant/{path_id}"))
    existing = (current or {}).get("Metadata") or {}
    diffs = path_differences(spec, existing)
    if not diffs:
        return ProvisionStep("path", PATH_NAME, "none", "up to date")
    if not dry_run:
        update = {"FullName": PATH_NAME, "Metadata": merged(spec, existing)}
        client.call("tooling update", tooling("PATCH", f"sobjects/PathAssistant/{path_id}", update))
    return ProvisionStep("path", PATH_NAME, "update", f"differs in {', '.join(diffs)}")


def _create(client: SalesforceClient, body: dict[str, Any]) -> None:
    """Create the path; after a failure that may have created it, find it by name first."""
    key = format_soql("SELECT Id FROM PathAssistant WHERE DeveloperName = {}", PATH_NAME)
    try:
        create_metadata(client, "PathAssistant", body, key)
    except SalesforceError as exc:
        if any(code == "DUPLICATE_DEVELOPER_NAME" for code, _ in error_items(exc)):
            return  # a retried create whose first attempt did land
        raise
