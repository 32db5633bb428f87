"""HubSpot deals <-> neutral engagements: pure functions, no I/O.

A deal is an engagement when it sits in the configured pipeline. Its stage id maps to a playbook
stage key through the stage *labels* of that pipeline (``stage_map`` names them; by default the
playbook's own labels), because labels are what RevOps see and configure while stage ids are
portal-generated. Open/won/lost comes from HubSpot's own stage metadata (``isClosed`` and a
probability of 1.0 for the won stage), so an unmapped stage still tells open from closed.

On the wire every property value is a string: dates are ``YYYY-MM-DD`` at midnight UTC (HubSpot
rejects any other time), numbers and booleans are their text, and ``""`` clears a value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import TASK_DESCRIPTION_MAX, TASK_SUBJECT_MAX
from servefirst.playbook.checklist import parse_checklist
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import (
    DesiredTask,
    Engagement,
    Health,
    PluginFields,
    Severity,
    Sponsor,
    Status,
    TaskRef,
)

CRM = "hubspot"
WON, LOST = "won", "lost"
TASK_OPEN_STATUS = "NOT_STARTED"
TASK_DONE_STATUS = "COMPLETED"
#: Due time of playbook tasks: noon UTC keeps the due *day* the same from UTC-11 to UTC+11.
TASK_DUE_TIME = dt.time(12, 0, tzinfo=dt.UTC)
CONTACT_PROPERTIES = ("firstname", "lastname", "email", "jobtitle")
#: Task properties a pull reads: the key, whether it is done, and what it says.
TASK_PROPERTIES = ("hs_task_status", "hs_task_subject", "hs_task_body")
Props = Mapping[str, str | None]


@dataclass(frozen=True)
class StageInfo:
    """One stage of a HubSpot pipeline, with the metadata that says open, won or lost."""

    id: str
    label: str
    display_order: int = 0
    is_closed: bool = False
    probability: float | None = None

    @property
    def is_won(self) -> bool:
        return self.is_closed and self.probability is not None and self.probability >= 1.0


@dataclass(frozen=True)
class PipelineInfo:
    """A deal pipeline as HubSpot describes it."""

    id: str
    label: str
    stages: tuple[StageInfo, ...]


def expected_stages(playbook: Playbook, stage_map: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(playbook key, HubSpot stage label)`` of every stage, open ones first, then won, lost."""
    keys = [(s.key, s.label) for s in playbook.stages]
    keys += [(WON, playbook.closed_stages.won), (LOST, playbook.closed_stages.lost)]
    return [(key, stage_map.get(key, label)) for key, label in keys]


def norm_label(label: str) -> str:
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class StageMapping:
    """How the stages of the configured pipeline map to playbook stage keys."""

    pipeline: PipelineInfo
    key_by_stage: dict[str, str]

    @classmethod
    def build(
        cls, pipeline: PipelineInfo, playbook: Playbook, stage_map: Mapping[str, str]
    ) -> StageMapping:
        """Match stages by label (case- and space-insensitive); unmatched stages stay unmapped."""
        by_label = {norm_label(s.label): s for s in pipeline.stages}
        key_by_stage: dict[str, str] = {}
        for key, label in expected_stages(playbook, stage_map):
            stage = by_label.get(norm_label(label))
            if stage is not None:
                key_by_stage.setdefault(stage.id, key)
        return cls(pipeline=pipeline, key_by_stage=key_by_stage)

    def stage(self, stage_id: str) -> StageInfo | None:
        return next((s for s in self.pipeline.stages if s.id == stage_id), None)

    def missing_keys(self, playbook: Playbook) -> list[str]:
        """Playbook stage keys no stage of the pipeline maps to (provisioning reports them)."""
        mapped = set(self.key_by_stage.values())
        keys = [s.key for s in playbook.stages] + [WON, LOST]
        return [k for k in keys if k not in mapped]


@dataclass(frozen=True)
class DealBundle:
    """A deal with what servefirst reads around it, as fetched by one page of a pull."""

    id: str
    properties: Props
    sponsors: tuple[Sponsor, ...] = ()
    account: str | None = None
    owner_name: str | None = None
    tasks: tuple[tuple[str, Props], ...] = field(default=())


def parse_date(value: str | None) -> dt.date | None:
    """A HubSpot date or datetime value as a UTC calendar date.

    Date properties come back as ``YYYY-MM-DD`` (some docs show epoch milliseconds); datetime
    properties such as ``closedate`` as ISO 8601 with ``Z``. Unparseable text counts as empty.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC).date()
    if len(text) == 10:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    parsed = parse_datetime(text)
    return parsed.date() if parsed is not None else None


def parse_datetime(value: str | None) -> dt.datetime | None:
    """An ISO 8601 (``...Z``) or epoch-millisecond value as an aware UTC datetime."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if text.isdigit():
            return dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _text(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


#: HubSpot's object type id of deals, as its record pages' addresses spell it.
DEAL_OBJECT_TYPE = "0-3"


def record_url(app_url: str, portal_id: int | None, deal_id: str) -> str | None:
    """Where a person opens the deal in HubSpot; ``None`` when the portal id is not configured.

    HubSpot's record pages are addressed by portal (account) id, which no API reply servefirst
    already makes carries, so it comes from the connection's ``portal_id`` setting.
    """
    if portal_id is None:
        return None
    return f"{app_url.rstrip('/')}/contacts/{portal_id}/record/{DEAL_OBJECT_TYPE}/{quote(deal_id)}"


def deal_properties(fields: HubSpotFields) -> list[str]:
    """Every deal property a pull reads."""
    names = ["dealname", "amount", "pipeline", "dealstage", "hubspot_owner_id"]
    names += ["hs_lastmodifieddate", "hs_object_id", "num_associated_contacts"]
    names += [getattr(fields, f) for f in HubSpotFields.model_fields]
    names.remove(fields.task_key)
    return list(dict.fromkeys(names))


def sponsor_from_contact(contact_id: str, props: Props, role: str) -> Sponsor:
    """A sponsor from a contact's properties."""
    name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
    return Sponsor(
        contact_id=contact_id,
        name=name or (props.get("email") or ""),
        email=_text(props.get("email")),
        title=_text(props.get("jobtitle")),
        role=role,
    )


def task_refs(
    tasks: Iterable[tuple[str, Props]], key_property: str, *, done: bool = False
) -> tuple[TaskRef, ...]:
    """The playbook tasks (those carrying a servefirst key) among a deal's tasks.

    Open ones by default; ``done`` for the completed ones, which may have to be reopened.
    """
    refs = []
    for task_id, props in tasks:
        key = _text(props.get(key_property))
        if key is None or (props.get("hs_task_status") == TASK_DONE_STATUS) != done:
            continue
        refs.append(
            TaskRef(
                key=key,
                rule=key.rsplit(":", 1)[-1],
                task_id=task_id,
                subject=props.get("hs_task_subject") or "",
                description=props.get("hs_task_body") or "",
            )
        )
    return tuple(sorted(refs, key=lambda r: (r.key, r.task_id)))


def deal_of_task_key(key: str) -> str | None:
    """The deal id inside a playbook task key ``servefirst:<deal>:<rule>``, if it is one."""
    parts = key.split(":")
    if len(parts) != 3 or parts[0] != "servefirst" or not parts[1].isdigit():
        return None
    return parts[1]


def current_plugin_fields(props: Props, fields: HubSpotFields) -> PluginFields:
    """What the plugin-owned properties hold now; values servefirst never writes count as empty."""
    raw_health = props.get(fields.health)
    health = Health(raw_health) if raw_health in {h.value for h in Health} else None
    slips = _float(props.get(fields.slips))
    return PluginFields(
        health=health,
        findings=_text(props.get(fields.findings)),
        slips=int(slips) if slips is not None else None,
        timetable=_text(props.get(fields.timetable)),
    )


def deal_to_engagement(
    deal: DealBundle, mapping: StageMapping, fields: HubSpotFields
) -> Engagement | None:
    """The neutral engagement of a deal, or ``None`` for a deal outside the pipeline."""
    props = deal.properties
    if props.get("pipeline") != mapping.pipeline.id:
        return None
    stage_id = props.get("dealstage") or ""
    stage = mapping.stage(stage_id)
    key = mapping.key_by_stage.get(stage_id)
    if stage is not None and stage.is_closed:
        status = Status.WON if stage.is_won else Status.LOST
    else:
        status = Status.OPEN
    return Engagement(
        id=deal.id,
        crm=CRM,
        name=props.get("dealname") or f"Deal {deal.id}",
        account=deal.account,
        owner_id=_text(props.get("hubspot_owner_id")),
        owner_name=deal.owner_name,
        stage=key,  # closed stages map to the playbook's 'won' / 'lost' keys
        raw_stage=stage.label if stage is not None else stage_id,
        status=status,
        amount=_float(props.get("amount")),
        po_date=parse_date(props.get(fields.po_date)),
        operational_date=parse_date(props.get(fields.operational_date)),
        success_criteria=parse_checklist(props.get(fields.success_criteria)),
        success_confirmed=(props.get(fields.success_confirmed) or "").lower() == "true",
        sponsors=deal.sponsors,
        last_modified=parse_datetime(props.get("hs_lastmodifieddate")),
        current=current_plugin_fields(props, fields),
        open_tasks=task_refs(deal.tasks, fields.task_key),
        completed_tasks=task_refs(deal.tasks, fields.task_key, done=True),
        waiver_text=_text(props.get(fields.waiver)),
    )


#: Neutral field -> the ``HubSpotFields`` attribute naming its deal property.
WRITABLE = {
    "health": "health",
    "findings": "findings",
    "slips": "slips",
    "timetable": "timetable",
    "operational_date": "operational_date",
}


def to_wire(value: object) -> str:
    """One value as HubSpot wants it on the wire: always a string, ``""`` for empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Health):
        return value.value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def property_for(neutral: str, fields: HubSpotFields) -> str:
    """The deal property a neutral field is written to; unknown fields are a programming error."""
    if neutral not in WRITABLE:
        raise ValueError(f"servefirst never writes the field {neutral!r} to HubSpot")
    name: str = getattr(fields, WRITABLE[neutral])
    return name


def update_properties(values: Mapping[str, object], fields: HubSpotFields) -> dict[str, str]:
    """Deal properties for one record update, every value a string."""
    return {property_for(k, fields): to_wire(v) for k, v in values.items()}


def task_properties(
    task: DesiredTask, *, owner_id: str | None, key_property: str
) -> dict[str, str]:
    """Properties of a new playbook task: subject, body, due time, owner and the key.

    Errors make a High-priority task, warnings a Medium one (a group's task carries the worst
    severity of its findings).
    """
    due = dt.datetime.combine(task.due, TASK_DUE_TIME)
    props = {
        "hs_task_subject": task.subject[:TASK_SUBJECT_MAX],
        "hs_task_body": task.description[:TASK_DESCRIPTION_MAX],
        "hs_timestamp": due.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "hs_task_status": TASK_OPEN_STATUS,
        "hs_task_priority": "HIGH" if task.severity is Severity.ERROR else "MEDIUM",
        "hs_task_type": "TODO",
        key_property: task.key,
    }
    owner = task.owner_id or owner_id
    if owner:
        props["hubspot_owner_id"] = owner
    return props
