"""Deal pipelines and their stages.

Stage metadata values are strings on the wire (``{"probability": "0.2", "isClosed": "false"}``).
Deal stages must carry a probability between 0.0 and 1.0 in steps of 0.1; ``isClosed`` defaults
from it (0 and 1 are the closed lost / closed won ends). Pipelines and stages need a label
(unique among their siblings) and a ``displayOrder``; they list by display order, then label.
The default pipeline's stages have ``createdAt`` 0, as HubSpot's reference says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError, conflict, validation
from servefirst.connectors.hubspot.sandbox.wire import iso_ms

DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
)


@dataclass
class Stage:
    id: str
    label: str
    display_order: int
    metadata: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "metadata": self.metadata,
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived,
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }


@dataclass
class Pipeline:
    id: str
    label: str
    display_order: int
    created_ms: int
    updated_ms: int
    stages: list[Stage] = field(default_factory=list)
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "stages": [s.to_json() for s in self.live_stages()],
            "createdAt": iso_ms(self.created_ms),
            "updatedAt": iso_ms(self.updated_ms),
            "archived": self.archived,
        }

    def live_stages(self) -> list[Stage]:
        live = (s for s in self.stages if not s.archived)
        return sorted(live, key=lambda s: (s.display_order, s.label))

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id and not s.archived:
                return s
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Stage {stage_id} not found in {self.id}.")


def _metadata(raw: object) -> dict[str, str]:
    """Stage metadata as strings; deal stages need a probability in [0, 1]."""
    if not isinstance(raw, dict):
        raise validation("stage `metadata` must be an object with a `probability`")
    meta = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    try:
        probability = float(meta["probability"])
    except (KeyError, ValueError):
        raise validation(
            "deal stages need metadata.probability, a number between 0.0 and 1.0"
        ) from None
    if not 0.0 <= probability <= 1.0 or abs(probability * 10 - round(probability * 10)) > 1e-9:
        raise validation(
            f"metadata.probability {probability} must be between 0.0 and 1.0 in steps of 0.1"
        )
    meta.setdefault("isClosed", "true" if probability in (0.0, 1.0) else "false")
    return meta


class Pipelines:
    """All deal pipelines of the portal; ids of created ones are numeric strings."""

    def __init__(self) -> None:
        self.by_id: dict[str, Pipeline] = {}
        self.next_id = 1000

    def _new_id(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def add_default(self, now: int) -> None:
        default = Pipeline("default", "Sales Pipeline", 0, 0, now)
        for order, (stage_id, label, probability) in enumerate(DEFAULT_STAGES):
            meta = _metadata({"probability": probability})
            default.stages.append(Stage(stage_id, label, order, meta, 0, now))
        self.by_id[default.id] = default

    def live(self) -> list[Pipeline]:
        live = (p for p in self.by_id.values() if not p.archived)
        return sorted(live, key=lambda p: (p.display_order, p.label))

    def get(self, pipeline_id: str) -> Pipeline:
        pipeline = self.by_id.get(pipeline_id)
        if pipeline is None or pipeline.archived:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"Pipeline {pipeline_id} not found.")
        return pipeline

    def _check_label(self, label: object, except_id: str | None = None) -> str:
        if not isinstance(label, str) or not label.strip():
            raise validation("a pipeline needs a non-empty `label`")
        for p in self.live():
            if p.label == label and p.id != except_id:
                raise conflict(f"A pipeline with label {label!r} already exists.", "CONFLICT")
        return label

    def _stages(self, raw: object, now: int) -> list[Stage]:
        if not isinstance(raw, list) or not raw:
            raise validation("a pipeline needs at least one stage")
        stages = [self._stage(item, now) for item in raw]
        labels = [s.label for s in stages]
        if len(set(labels)) != len(labels):
            raise validation("stage labels must be unique within a pipeline")
        return stages

    def _stage(self, item: object, now: int, stage_id: str | None = None) -> Stage:
        if (
            not isinstance(item, dict)
            or not str(item.get("label") or "").strip()
            or "displayOrder" not in item
        ):
            raise validation("each stage needs a `label`, a `displayOrder` and `metadata`")
        return Stage(
            stage_id or self._new_id(),
            str(item["label"]),
            int(item.get("displayOrder", 0)),
            _metadata(item.get("metadata")),
            now,
            now,
        )

    def create(self, payload: dict[str, Any], now: int) -> Pipeline:
        if "displayOrder" not in payload:
            raise validation("a pipeline needs a `displayOrder`")
        label = self._check_label(payload.get("label"))
        stages = self._stages(payload.get("stages"), now)
        pipeline = Pipeline(self._new_id(), label, int(payload.get("displayOrder", 0)), now, now)
        pipeline.stages = stages
        self.by_id[pipeline.id] = pipeline
        return pipeline

    def replace(self, pipeline_id: str, payload: dict[str, Any], now: int) -> Pipeline:
        pipeline = self.get(pipeline_id)
        pipeline.label = self._check_label(payload.get("label"), pipeline_id)
        pipeline.display_order = int(payload.get("displayOrder", pipeline.display_order))
        pipeline.stages = self._stages(payload.get("stages"), now)
        pipeline.updated_ms = now
        return pipeline

    def update(self, pipeline_id: str, payload: dict[str, Any], now: int) -> Pipeline:
        pipeline = self.get(pipeline_id)
        if "label" in payload:
            pipeline.label = self._check_label(payload["label"], pipeline_id)
        if "displayOrder" in payload:
            pipeline.display_order = int(payload["displayOrder"])
        if payload.get("archived") is True:
            pipeline.archived = True
        pipeline.updated_ms = now
        return pipeline

    def add_stage(self, pipeline_id: str, payload: dict[str, Any], now: int) -> Stage:
        pipeline = self.get(pipeline_id)
        stage = self._stage(payload, now)
        if any(s.label == stage.label for s in pipeline.live_stages()):
            raise conflict(f"A stage labelled {stage.label!r} already exists.", "CONFLICT")
        pipeline.stages.append(stage)
        pipeline.updated_ms = now
        return stage

    def update_stage(
        self, pipeline_id: str, stage_id: str, payload: dict[str, Any], now: int, replace: bool
    ) -> Stage:
        pipeline = self.get(pipeline_id)
        stage = pipeline.stage(stage_id)
        if replace:
            fresh = self._stage(payload, now, stage_id)
            stage.label, stage.display_order, stage.metadata = (
                fresh.label,
                fresh.display_order,
                fresh.metadata,
            )
        else:
            if "label" in payload:
                stage.label = str(payload["label"])
            if "displayOrder" in payload:
                stage.display_order = int(payload["displayOrder"])
            if "metadata" in payload:
                stage.metadata = _metadata({**stage.metadata, **payload["metadata"]})
            if payload.get("archived") is True:
                stage.archived = True
        stage.updated_ms = now
        return stage

    def stage_ids(self, pipeline_id: str) -> set[str]:
        pipeline = self.by_id.get(pipeline_id)
        if pipeline is None or pipeline.archived:
            return set()
        return {s.id for s in pipeline.live_stages()}
