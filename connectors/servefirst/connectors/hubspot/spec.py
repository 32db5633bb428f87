"""What a portal needs for the playbook: property group, properties, pipeline stages, label.

Pure data and comparisons, so provisioning's decisions ("create", "update", "none") are
unit-tested without a portal. Descriptions are written for the reps who see them in HubSpot's
record sidebar: they say what the field means to the sponsor and who fills it in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.hubspot.mapping import LOST, WON, expected_stages
from servefirst.playbook.definition import Playbook

GROUP_LABEL = "Serve-first playbook"
HEALTH_OPTIONS = (("on_track", "On track"), ("at_risk", "At risk"), ("off_track", "Off track"))
BOOL_OPTIONS = (("true", "Yes"), ("false", "No"))


@dataclass(frozen=True)
class PropertySpec:
    """One custom property servefirst needs, in HubSpot's terms."""

    object_type: str
    name: str
    label: str
    type: str
    field_type: str
    description: str
    options: tuple[tuple[str, str], ...] = ()
    has_unique_value: bool = False

    def differences(self, existing: Any, group: str) -> dict[str, object]:
        """What a PATCH must change on ``existing`` (a client Property) to match this spec."""
        wanted: dict[str, object] = {
            "label": self.label,
            "type": self.type,
            "field_type": self.field_type,
            "description": self.description,
            "group_name": group,
        }
        diff = {k: v for k, v in wanted.items() if getattr(existing, k, None) != v}
        have = {(str(o.value), str(o.label)) for o in (getattr(existing, "options", None) or [])}
        if self.options and have != set(self.options):
            diff["options"] = self.options
        return diff


def property_specs(fields: HubSpotFields) -> list[PropertySpec]:
    """The deal properties of playbook.md, then the task key property."""
    deal = [
        PropertySpec(
            "deals",
            fields.operational_date,
            "Operational Date",
            "date",
            "date",
            "The day the solution is operating and meeting the sponsor's success criteria. "
            "Agree it with your sponsor; it matters more to them than the PO date.",
        ),
        PropertySpec(
            "deals",
            fields.success_criteria,
            "Success criteria",
            "string",
            "textarea",
            "What 'improved' means to the sponsor, measurably, one criterion per line. "
            "Write them in the sponsor's words; tick a line with [x] once it is met.",
        ),
        PropertySpec(
            "deals",
            fields.success_confirmed,
            "Success confirmed",
            "bool",
            "booleancheckbox",
            "Tick when the sponsor confirms the solution meets their success criteria.",
            BOOL_OPTIONS,
        ),
        PropertySpec(
            "deals",
            fields.health,
            "Playbook health",
            "enumeration",
            "select",
            "Set by servefirst on every sync: off track when something blocks serving the "
            "sponsor, at risk when something needs attention. Do not edit; fix the findings.",
            HEALTH_OPTIONS,
        ),
        PropertySpec(
            "deals",
            fields.findings,
            "Playbook findings",
            "string",
            "textarea",
            "Written by servefirst on every sync: what departs from the serve-first playbook "
            "on this engagement and how to fix it. Do not edit; it is rewritten.",
        ),
        PropertySpec(
            "deals",
            fields.slips,
            "Operational Date slips",
            "number",
            "number",
            "Counted by servefirst: how many times the Operational Date moved later. "
            "Frequent slips mean the timetable needs an honest talk with the sponsor.",
        ),
        PropertySpec(
            "deals",
            fields.timetable,
            "Playbook timetable",
            "string",
            "textarea",
            "Written by servefirst on every sync: the engagement's project timetable from the "
            "playbook (stage milestones, PO date, delivery, Operational Date, success review). "
            "Paste it into a mail to your sponsor.",
        ),
        PropertySpec(
            "deals",
            fields.waiver,
            "Playbook waiver",
            "string",
            "textarea",
            "For managers: one waiver per line, e.g. 'Operational Date until 2026-09-30: the "
            "customer freezes projects until their audit'. A waived finding opens no task until "
            "that date; the playbook caps how far ahead. servefirst only reads it.",
        ),
    ]
    task_key = PropertySpec(
        "tasks",
        fields.task_key,
        "Serve-first task key",
        "string",
        "text",
        "Set by servefirst on the tasks it opens, so it never opens the same task twice. "
        "Do not edit.",
    )
    return [*deal, task_key]


@dataclass(frozen=True)
class StageSpec:
    """One stage the pipeline needs; ``mapped`` when RevOps mapped it onto their own stage."""

    key: str
    label: str
    display_order: int
    is_closed: bool
    probability: float
    mapped: bool

    def metadata(self) -> dict[str, str]:
        """HubSpot's stage metadata: strings, probability 0.0 to 1.0."""
        return {
            "isClosed": "true" if self.is_closed else "false",
            "probability": f"{self.probability:g}",
        }


def stage_specs(playbook: Playbook, stage_map: Mapping[str, str]) -> list[StageSpec]:
    """The playbook's stages in order; open stages' probability rises evenly towards won."""
    stages = expected_stages(playbook, stage_map)
    open_count = len(playbook.stages)
    specs = []
    for order, (key, label) in enumerate(stages):
        if key == WON:
            closed, probability = True, 1.0
        elif key == LOST:
            closed, probability = True, 0.0
        else:
            closed, probability = False, round((order + 1) / (open_count + 1), 2)
        specs.append(StageSpec(key, label, order, closed, probability, key in stage_map))
    return specs


def label_name(label: str) -> str:
    """The internal name HubSpot needs for an association label (``Sponsor`` -> ``sponsor``)."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or "label"
