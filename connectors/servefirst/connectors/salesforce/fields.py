"""The custom fields servefirst provisions: types, labels and help text written for reps.

A rep meets these labels and help bubbles on every opportunity, so they speak the serve-first
language of playbook.md (sponsor, success criteria, Operational Date) rather than the CRM's.
API names come from the connection's ``fields`` settings: an org that keeps the Operational
Date in a field of its own points servefirst at it, and a setting naming a standard field (no
``__c``) is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servefirst.config.settings import SalesforceFields
from servefirst.connectors.salesforce.mapping import HEALTH_LABELS

#: Task and Event custom fields live on the Activity object in Salesforce's metadata (a
#: ``Task.X__c`` FullName is refused there); their field-level security is still granted per
#: object, and servefirst only writes Tasks. Emulators that model Task fields on Task itself
#: refuse ``Activity``, so provisioning falls back to ``Task`` only when ``Activity`` is refused.
ACTIVITY = "Activity"
TASK_TABLES = (ACTIVITY, "Task")
LONG_TEXT = 32_768


@dataclass(frozen=True)
class FieldSpec:
    """One custom field: where it lives and the metadata it must have."""

    table: str  # the CustomField's TableEnumOrId: Opportunity, or Activity for Task fields
    api_name: str  # e.g. Operational_Date__c
    metadata: Mapping[str, Any]
    secured_on: tuple[str, ...]  # objects whose FieldPermissions must grant it
    #: Where else the field may live if ``table`` is refused (see ``TASK_TABLES``).
    fallback_tables: tuple[str, ...] = ()
    #: Whether servefirst's own permission set may edit it; ``False`` for a field servefirst
    #: only reads and someone else owns (the waiver: managers write it).
    integration_edit: bool = True

    @property
    def tables(self) -> tuple[str, ...]:
        return (self.table, *self.fallback_tables)

    @property
    def developer_name(self) -> str:
        """The name without ``__c``: how the Tooling API's CustomField.DeveloperName spells it."""
        return self.api_name.removesuffix("__c")

    @property
    def full_name(self) -> str:
        return f"{self.table}.{self.api_name}"

    def permission_fields(self) -> tuple[str, ...]:
        """``FieldPermissions.Field`` values: ``Opportunity.X__c``, ``Task.X__c``..."""
        return tuple(f"{obj}.{self.api_name}" for obj in self.secured_on)


def _picklist(values: tuple[str, ...]) -> dict[str, Any]:
    return {
        "restricted": True,
        "valueSetDefinition": {
            "sorted": False,
            "value": [{"fullName": v, "label": v, "default": False} for v in values],
        },
    }


def _opportunity(api_name: str, metadata: dict[str, Any], *, edit: bool = True) -> FieldSpec:
    return FieldSpec("Opportunity", api_name, metadata, ("Opportunity",), integration_edit=edit)


def field_specs(fields: SalesforceFields) -> tuple[FieldSpec, ...]:
    """The custom fields of playbook.md under the configured names (standard ones skipped)."""
    specs = [
        _opportunity(
            fields.operational_date,
            {
                "type": "Date",
                "label": "Operational Date",
                "description": "servefirst: when the solution is operating and meeting the "
                "sponsor's success criteria. Rep-owned.",
                "inlineHelpText": "The date your sponsor's problem is solved: the solution is "
                "working and meeting their success criteria. Agree it with your sponsor; it "
                "matters more to them than the PO date.",
                "required": False,
            },
        ),
        _opportunity(
            fields.success_criteria,
            {
                "type": "LongTextArea",
                "label": "Success Criteria",
                "length": LONG_TEXT,
                "visibleLines": 6,
                "description": "servefirst: the sponsor's measurable success criteria, one per "
                "line. Rep-owned.",
                "inlineHelpText": "What 'improved' means to your sponsor, in their words and "
                "measurable: one criterion per line, e.g. '- [ ] cut setup from 40 to 10 "
                "minutes'. Mark a line [x] once it is met.",
            },
        ),
        _opportunity(
            fields.success_confirmed,
            {
                "type": "Checkbox",
                "label": "Success Confirmed",
                "defaultValue": "false",
                "description": "servefirst: the sponsor confirmed the success criteria are met "
                "in operation. Rep-owned.",
                "inlineHelpText": "Tick this once your sponsor confirms that the solution, in "
                "operation, meets their success criteria.",
            },
        ),
        _opportunity(
            fields.health,
            {
                "type": "Picklist",
                "label": "Playbook Health",
                "valueSet": _picklist(tuple(HEALTH_LABELS.values())),
                "description": "servefirst: On track / At risk / Off track, recomputed on every "
                "sync. Plugin-owned.",
                "inlineHelpText": "Set by servefirst on every sync: Off track when the engagement "
                "misses something the sponsor needs, At risk on a warning. Fix what Playbook "
                "Findings lists; editing this field changes nothing.",
            },
        ),
        _opportunity(
            fields.findings,
            {
                "type": "LongTextArea",
                "label": "Playbook Findings",
                "length": LONG_TEXT,
                "visibleLines": 6,
                "description": "servefirst: findings of the last sync. Plugin-owned.",
                "inlineHelpText": "What this engagement still needs to serve your sponsor, and "
                "how to fix each point. servefirst rewrites it on every sync.",
            },
        ),
        _opportunity(
            fields.slips,
            {
                "type": "Number",
                "label": "Operational Date Slips",
                "precision": 3,
                "scale": 0,
                "description": "servefirst: how many times the Operational Date moved later. "
                "Plugin-owned.",
                "inlineHelpText": "How many times the Operational Date moved later. Each slip "
                "costs your sponsor; agree a date you can keep.",
            },
        ),
        _opportunity(
            fields.timetable,
            {
                "type": "LongTextArea",
                "label": "Playbook Timetable",
                "length": LONG_TEXT,
                "visibleLines": 8,
                "description": "servefirst: the engagement's project timetable through the "
                "stages, from the playbook. Plugin-owned.",
                "inlineHelpText": "The project timetable servefirst works out from the playbook: "
                "the stage milestones, the PO date, delivery, the Operational Date and the "
                "success review. Paste it into a mail to your sponsor; it is rewritten on every "
                "sync.",
            },
        ),
        _opportunity(
            fields.waiver,
            {
                "type": "LongTextArea",
                "label": "Playbook Waiver",
                "length": LONG_TEXT,
                "visibleLines": 4,
                "description": "servefirst: findings a manager waived, one per line: what, until "
                "when, why. Manager-owned; servefirst only reads it.",
                "inlineHelpText": "For managers: one waiver per line, e.g. 'Operational Date "
                "until 2026-09-30: the customer freezes projects until their audit'. A waived "
                "finding opens no task until that date; the playbook caps how far ahead.",
            },
            edit=False,
        ),
        FieldSpec(
            ACTIVITY,
            fields.task_key,
            {
                "type": "Text",
                "label": "ServeFirst Key",
                "length": 100,
                "externalId": True,
                "unique": True,
                "caseSensitive": False,
                "description": "servefirst: links a task to the playbook rule that opened it, "
                "so a task is never opened twice.",
                "inlineHelpText": "Set by servefirst on the tasks it opens. Leave it as it is: "
                "servefirst closes the task when the engagement no longer needs it.",
            },
            ("Task",),
            TASK_TABLES[1:],
        ),
    ]
    return tuple(s for s in specs if s.api_name.endswith("__c"))


#: Metadata keys compared against an existing field; others (Salesforce's defaults) are ignored.
COMPARED = (
    "type",
    "label",
    "description",
    "inlineHelpText",
    "length",
    "visibleLines",
    "precision",
    "scale",
    "defaultValue",
    "externalId",
    "unique",
)


def differences(spec: FieldSpec, existing: Mapping[str, Any]) -> list[str]:
    """Metadata keys whose existing value differs from the spec (picklist values included)."""
    diffs = [
        key
        for key in COMPARED
        if key in spec.metadata and not _same(spec.metadata[key], existing.get(key))
    ]
    if "valueSet" in spec.metadata and _values(spec.metadata["valueSet"]) != _values(
        existing.get("valueSet")
    ):
        diffs.append("valueSet")
    return diffs


def _same(wanted: Any, actual: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return str(wanted).lower() == str(actual).lower()
    if isinstance(wanted, int | float) and isinstance(actual, int | float):
        return float(wanted) == float(actual)
    return bool(wanted == actual) or (wanted in ("", None) and actual in ("", None))


def _values(value_set: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(value_set, Mapping):
        return None
    definition = value_set.get("valueSetDefinition") or {}
    values = definition.get("value") or []
    restricted = bool(value_set.get("restricted"))
    pairs = [(str(v.get("fullName")), str(v.get("label") or v.get("fullName"))) for v in values]
    return (("", str(restricted)), *pairs)
