"""A rep's desk on a sandbox: edits as a rep makes them, reads back what a full scan would see.

The CRM-specific desks (``salesforce.sandbox.desk``, ``hubspot.sandbox.desk``) talk to their
sandbox only through the real client library, never through servefirst's connectors, and map
what they read onto the neutral model with their own few lines here. A test that compares the
sync's result with a desk's reading therefore shares no code with the sync except the playbook.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from servefirst.connectors.base import PLUGIN_FIELDS
from servefirst.playbook.checklist import parse_checklist
from servefirst.playbook.model import Engagement, PluginFields, Sponsor, Status, TaskRef

STAGES = ("discover", "diagnose", "design", "deliver", "won", "lost")
_LABELS = {"won": "Closed Won", "lost": "Closed Lost"}
_STATUS = {"won": Status.WON, "lost": Status.LOST}
#: Numbers the names of records a desk creates, so every engagement and sponsor is unique.
names = itertools.count(1)
#: Plugin-owned text fields beyond the three every connector has had (e.g. a timetable).
EXTRA_FIELDS = tuple(n for n in PLUGIN_FIELDS if n not in ("health", "findings", "slips"))


def stage_label(stage: str) -> str:
    return _LABELS.get(stage, stage.capitalize())


def key_parts(key: str) -> tuple[str, str] | None:
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


def neutral_engagement(crm: str, eid: str, stage_raw: str, values: dict[str, Any]) -> Engagement:
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


def day(raw: object) -> dt.date | None:
    return dt.date.fromisoformat(str(raw)[:10]) if raw else None


def whole(raw: object) -> int | None:
    return None if raw in (None, "") else int(float(str(raw)))


def wire(name: str, value: Any) -> Any:
    if name == "stage":
        return stage_label(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def refs(eid: str, tasks: list[OpenTask]) -> list[TaskRef]:
    out = []
    for task in tasks:
        parts = key_parts(task.key)
        if task.engagement_id == eid and parts is not None:
            out.append(TaskRef(key=task.key, rule=parts[1], task_id=task.task_id))
    return out
