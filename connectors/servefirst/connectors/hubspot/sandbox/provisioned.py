"""The schema a provisioned portal has, built from the connector's own spec.

A demo or benchmark portal should look like one servefirst already provisioned, so
``servefirst provision`` on it plans nothing. The seeder therefore never defines properties,
the property group, the pipeline or the Sponsor label itself: it writes what
``servefirst.connectors.hubspot.spec`` describes, for the default connection settings and the
bundled ``prime`` playbook. A wording change in the spec reaches the sandbox with no second edit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import HubSpotConnection, HubSpotFields
from servefirst.connectors.hubspot.mapping import WON
from servefirst.connectors.hubspot.sandbox.schema import PropertyDef
from servefirst.connectors.hubspot.sandbox.store import Group, Portal
from servefirst.connectors.hubspot.sandbox.wire import now_ms
from servefirst.connectors.hubspot.spec import (
    GROUP_LABEL,
    PropertySpec,
    StageSpec,
    label_name,
    property_specs,
    stage_specs,
)


def _default(name: str) -> str:
    """A connection setting's default (group, pipeline, label): what a fresh install uses."""
    return str(HubSpotConnection.model_fields[name].default)


@functools.cache
def stages() -> tuple[StageSpec, ...]:
    """The bundled playbook's stages as provisioning lays them out (read once per process)."""
    return tuple(stage_specs(load_playbook_file(builtin_playbook("prime")), {}))


@dataclass(frozen=True)
class Schema:
    """Ids the seeders need: the serve-first pipeline, its stage ids, the Sponsor type id."""

    pipeline_id: str
    #: stage label -> stage id, in pipeline order (open stages, then won, then lost).
    stages: dict[str, str]
    sponsor_type_id: int

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.stages)

    @property
    def won(self) -> str:
        return next(s.label for s in stages() if s.key == WON)


def _property(spec: PropertySpec, group: str, now: int) -> PropertyDef:
    options: list[dict[str, Any]] = [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (value, label) in enumerate(spec.options)
    ]
    return PropertyDef(
        spec.name,
        spec.label,
        spec.type,
        spec.field_type,
        group,
        spec.description,
        options,
        has_unique_value=spec.has_unique_value,
        created_ms=now,
        updated_ms=now,
    )


def ensure_schema(portal: Portal) -> Schema:
    """Creates what provisioning would create, unless it already exists (then reuses it)."""
    now = now_ms()
    group = _default("property_group")
    for spec in property_specs(HubSpotFields()):
        table = portal.tables[spec.object_type]
        if group not in table.groups:
            table.groups[group] = Group(group, GROUP_LABEL)
        if spec.name not in table.properties or table.properties[spec.name].archived:
            table.properties[spec.name] = _property(spec, group, now)
    name = _default("pipeline")
    pipeline = next((p for p in portal.pipelines.live() if p.label == name), None)
    if pipeline is None:
        body = [
            {"label": s.label, "displayOrder": s.display_order, "metadata": s.metadata()}
            for s in stages()
        ]
        pipeline = portal.pipelines.create({"label": name, "displayOrder": 0, "stages": body}, now)
    ids = {s.label: s.id for s in pipeline.live_stages()}
    label = _default("sponsor_label")
    pair = portal.association_schema.pair_types("deals", "contacts")
    sponsor = next((t for c, t, lb in pair if c == "USER_DEFINED" and lb == label), None)
    if sponsor is None:
        created = portal.association_schema.create_label(
            "deals", "contacts", label_name(label), label, None
        )
        sponsor = created[0].type_id
    portal.version += 1
    return Schema(pipeline.id, {s.label: ids[s.label] for s in stages()}, sponsor)
