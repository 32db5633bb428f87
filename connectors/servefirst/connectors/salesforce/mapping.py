"""Opportunity records to neutral engagements and neutral writes back to Opportunity fields.

Pure functions over the JSON Salesforce returns: no I/O, so every mapping rule is unit-tested
without a server. All names come from the connection's settings (``fields``, ``stage_map``,
``sponsor_role``), so an org that already has its own field for the Operational Date, or its own
stage names, needs configuration rather than code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from servefirst.config.settings import SalesforceConnection, SalesforceFields
from servefirst.connectors.base import TASK_DESCRIPTION_MAX, TASK_SUBJECT_MAX
from servefirst.playbook.checklist import parse_checklist
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError, RecordError
from servefirst.playbook.model import (
    DesiredTask,
    Engagement,
    Health,
    PluginFields,
    Sponsor,
    Status,
    TaskRef,
)

CRM = "salesforce"
#: Values of the restricted health picklist, in the words reps read.
HEALTH_LABELS: Mapping[Health, str] = {
    Health.ON_TRACK: "On track",
    Health.AT_RISK: "At risk",
    Health.OFF_TRACK: "Off track",
}
_HEALTH_BY_LABEL = {label.casefold(): health for health, label in HEALTH_LABELS.items()}
TASK_KEY_PREFIX = "servefirst:"
OPEN_TASK_STATUS = "Not Started"
DONE_TASK_STATUS = "Completed"


def stage_values(settings: SalesforceConnection, playbook: Playbook) -> dict[str, str]:
    """Playbook stage key (and ``won`` / ``lost``) -> StageName value.

    Unset keys use the playbook's own labels, so a sandbox or org set up with the serve-first
    stages needs no ``stage_map`` at all.
    """
    values = {stage.key: stage.label for stage in playbook.stages}
    values["won"] = playbook.closed_stages.won
    values["lost"] = playbook.closed_stages.lost
    for key, value in settings.stage_map.items():
        if key not in values:
            known = ", ".join(values)
            raise ConfigError(f"stage_map has unknown stage {key!r}; playbook stages: {known}")
        values[key] = value
    seen: dict[str, str] = {}
    for key, value in values.items():
        if value.casefold() in seen:
            raise ConfigError(
                f"stages {seen[value.casefold()]!r} and {key!r} both map to StageName "
                f"{value!r}; each playbook stage needs its own Salesforce stage"
            )
        seen[value.casefold()] = key
    return values


@dataclass(frozen=True)
class SalesforceMapping:
    """Everything needed to read and write one org's opportunities in neutral terms."""

    fields: SalesforceFields
    sponsor_role: str
    stages: Mapping[str, str]

    @classmethod
    def build(cls, settings: SalesforceConnection, playbook: Playbook) -> SalesforceMapping:
        return cls(settings.fields, settings.sponsor_role, stage_values(settings, playbook))

    def stage_key(self, stage_name: str) -> str | None:
        """The playbook stage of a StageName, or ``None`` when it maps to none."""
        folded = stage_name.casefold()
        for key, value in self.stages.items():
            if value.casefold() == folded:
                return key
        return None

    def field_name(self, neutral: str) -> str:
        """The API name of a writable neutral field (plugin-owned, or the autofill one)."""
        names = {
            "health": self.fields.health,
            "findings": self.fields.findings,
            "slips": self.fields.slips,
            "timetable": self.fields.timetable,
            "operational_date": self.fields.operational_date,
        }
        if neutral not in names:
            raise ValueError(f"servefirst never writes the field {neutral!r}")
        return names[neutral]

    def to_engagement(self, record: Mapping[str, Any]) -> Engagement:
        """One Opportunity, with its owner, account and completed child lists, as an Engagement.

        Raises:
            RecordError: the record is unreadable (names the record and the field).
        """
        record_id = str(record.get("Id") or "")
        f = self.fields
        try:
            open_tasks, completed = self._tasks(record)
            raw_stage = str(record.get("StageName") or "")
            stage = self.stage_key(raw_stage) if raw_stage else None
            return Engagement(
                id=record_id,
                crm=CRM,
                name=str(record.get("Name") or ""),
                account=_parent(record, "Account", "Name"),
                owner_id=record.get("OwnerId"),
                owner_name=_parent(record, "Owner", "Name"),
                stage=stage,
                raw_stage=raw_stage,
                status=_status(record),
                amount=_number(record.get("Amount")),
                po_date=parse_date(record.get(f.po_date)),
                operational_date=parse_date(record.get(f.operational_date)),
                success_criteria=parse_checklist(str(record.get(f.success_criteria) or "")),
                success_confirmed=bool(record.get(f.success_confirmed)),
                sponsors=self._sponsors(record),
                last_modified=parse_datetime(record.get("SystemModstamp")),
                current=PluginFields(
                    health=_health(record.get(f.health)),
                    findings=record.get(f.findings) or None,
                    slips=_whole(record.get(f.slips)),
                    timetable=record.get(f.timetable) or None,
                ),
                open_tasks=open_tasks,
                completed_tasks=completed,
                waiver_text=record.get(f.waiver) or None,
            )
        except (ValueError, TypeError) as exc:
            raise RecordError(
                f"cannot read this opportunity: {exc}; fix the record in Salesforce or the "
                "field mapping in servefirst.toml",
                crm_object="Opportunity",
                record_id=record_id or None,
            ) from exc

    def _sponsors(self, record: Mapping[str, Any]) -> tuple[Sponsor, ...]:
        role = self.sponsor_role.casefold()
        sponsors = []
        for row in child_records(record, "OpportunityContactRoles"):
            if str(row.get("Role") or "").casefold() != role or not row.get("ContactId"):
                continue
            contact = row.get("Contact") or {}
            sponsors.append(
                Sponsor(
                    contact_id=str(row["ContactId"]),
                    name=str(contact.get("Name") or ""),
                    email=contact.get("Email"),
                    title=contact.get("Title"),
                    role=row.get("Role"),
                )
            )
        return tuple(sponsors)

    def _tasks(self, record: Mapping[str, Any]) -> tuple[tuple[TaskRef, ...], tuple[TaskRef, ...]]:
        """The playbook tasks of an opportunity: (open, closed), with what each says now."""
        open_refs: list[TaskRef] = []
        closed_refs: list[TaskRef] = []
        for row in child_records(record, "Tasks"):
            key = row.get(self.fields.task_key)
            rule = task_rule(key) if isinstance(key, str) else None
            if rule is None:
                continue
            ref = TaskRef(
                key=key,
                rule=rule,
                task_id=str(row["Id"]),
                subject=row.get("Subject") or "",
                description=row.get("Description") or "",
            )
            (closed_refs if row.get("IsClosed") else open_refs).append(ref)
        return tuple(open_refs), tuple(closed_refs)

    def write_values(self, values: Mapping[str, object]) -> dict[str, object]:
        """Neutral field values -> Opportunity field values in Salesforce's wire format."""
        return {self.field_name(k): _wire(k, v) for k, v in values.items()}

    def task_record(self, engagement_id: str, task: DesiredTask, priority: str) -> dict[str, Any]:
        """A Task upsert record keyed by the task's deterministic key: a replay finds it."""
        record: dict[str, Any] = {
            "attributes": {"type": "Task"},
            self.fields.task_key: task.key,
            "Subject": task.subject[:TASK_SUBJECT_MAX],
            "WhatId": engagement_id,
            "ActivityDate": task.due.isoformat(),
            "Description": task.description[:TASK_DESCRIPTION_MAX],
            "Status": OPEN_TASK_STATUS,
            "Priority": priority,
        }
        if task.owner_id:
            record["OwnerId"] = task.owner_id
        return record


def record_url(instance_url: str, opportunity_id: str) -> str:
    """Where a person opens the opportunity in Lightning Experience (reports link to it)."""
    return f"{instance_url.rstrip('/')}/lightning/r/Opportunity/{quote(opportunity_id)}/view"


def child_records(record: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    """Rows of a child subquery; Salesforce sends ``null`` rather than an empty list."""
    child = record.get(relationship)
    if not child:
        return []
    rows: list[Mapping[str, Any]] = child.get("records") or []
    return rows


def task_rule(key: str) -> str | None:
    """The rule of a playbook task key ``servefirst:<engagement>:<rule>``; ``None`` if foreign."""
    if not key.startswith(TASK_KEY_PREFIX):
        return None
    rule = key.rsplit(":", 1)[-1]
    return rule or None


def parse_date(value: object) -> dt.date | None:
    """A Salesforce date ``2024-05-01`` (``None`` stays ``None``)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a date string, got {value!r}")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_datetime(value: object) -> dt.datetime | None:
    """A Salesforce datetime ``2024-05-01T12:00:00.000+0000``, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a datetime string, got {value!r}")
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's own datetime wire format, in UTC with milliseconds."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _status(record: Mapping[str, Any]) -> Status:
    if not record.get("IsClosed"):
        return Status.OPEN
    return Status.WON if record.get("IsWon") else Status.LOST


def _parent(record: Mapping[str, Any], relationship: str, field: str) -> str | None:
    parent = record.get(relationship)
    if not parent:
        return None
    value = parent.get(field)
    return str(value) if value is not None else None


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _whole(value: object) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _health(value: object) -> Health | None:
    """An unknown picklist value reads as empty, so the next sync rewrites it."""
    if not isinstance(value, str):
        return None
    return _HEALTH_BY_LABEL.get(value.casefold())


def _wire(neutral: str, value: object) -> object:
    if value is None:
        return None
    if neutral == "health":
        return HEALTH_LABELS[Health(str(value))]
    if neutral == "operational_date":
        if not isinstance(value, dt.date):
            raise TypeError(f"operational_date must be a date, got {value!r}")
        return value.isoformat()
    if neutral == "slips":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"slips must be a whole number, got {value!r}")
        return value
    if neutral in ("findings", "timetable"):
        return str(value)
    raise ValueError(f"servefirst never writes the field {neutral!r}")


__all__ = [
    "CRM",
    "HEALTH_LABELS",
    "SalesforceMapping",
    "child_records",
    "format_datetime",
    "parse_date",
    "parse_datetime",
    "stage_values",
    "task_rule",
]
