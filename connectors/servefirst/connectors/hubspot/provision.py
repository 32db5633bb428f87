"""Provisioning a portal for the playbook: read everything, compare, write only what differs.

The plan is built from six reads (property groups and properties of deals and tasks, the
pipelines, the deal->contact labels) and lists every item with ``create``, ``update``, ``none``
or ``manual``. A dry run returns it; otherwise each create/update is applied in order. Running
it again finds nothing to do. A create answered with 409 means someone (another run, an admin)
created the item meanwhile: the item is re-read and, if it differs, updated. A create that
failed without a clear answer (a 5xx, a lost reply) is looked up by its natural key before it
is tried again, so it never lands twice.

Stages RevOps mapped onto their own pipeline's stages (``stage_map``) are never modified: a
mapped stage that is missing or whose closed/won metadata contradicts its playbook meaning is a
``manual`` step for an admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hubspot.crm.associations.v4.schema as labels_models
import hubspot.crm.pipelines as pipeline_models
import hubspot.crm.properties as property_models

from servefirst.config.settings import HubSpotConnection
from servefirst.connectors.base import ProvisionReport, ProvisionStep, who_may_waive
from servefirst.connectors.hubspot.client import HubSpotClient, HubSpotRequestError
from servefirst.connectors.hubspot.mapping import PipelineInfo, norm_label
from servefirst.connectors.hubspot.records import find_pipeline
from servefirst.connectors.hubspot.spec import (
    GROUP_LABEL,
    PropertySpec,
    StageSpec,
    label_name,
    property_specs,
    stage_specs,
)
from servefirst.connectors.preflight import missing_stage_targets
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError


@dataclass(frozen=True)
class _Item:
    step: ProvisionStep
    write: Callable[[], None] | None = None


class Provisioner:
    """Plans and applies what one portal needs."""

    def __init__(self, client: HubSpotClient, settings: HubSpotConnection) -> None:
        self.client = client
        self.settings = settings

    def run(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        items = self.plan(playbook)
        if not dry_run:
            for item in items:
                if item.write is not None and item.step.action in ("create", "update"):
                    item.write()
        return ProvisionReport(steps=tuple(i.step for i in items), applied=not dry_run)

    def plan(self, playbook: Playbook) -> list[_Item]:
        items = [self._group(object_type) for object_type in ("deals", "tasks")]
        existing = {o: self._properties(o) for o in ("deals", "tasks")}
        items += [
            self._property(spec, existing[spec.object_type].get(spec.name))
            for spec in property_specs(self.settings.fields)
        ]
        items.append(self._label())
        items.extend(self._pipeline(playbook))
        items.append(self._waiver_access(who_may_waive(playbook)))
        return items

    def _waiver_access(self, who: str) -> _Item:
        """Who may edit the waiver: HubSpot's property permissions have no public API."""
        name = f"deals.{self.settings.fields.waiver}"
        return _Item(
            ProvisionStep(
                "permission",
                name,
                "manual",
                "only managers may waive findings: in HubSpot, Settings > Properties > Playbook "
                f"waiver > Edit property access, let only '{who}' edit it (Enterprise "
                "field-level permissions; on other tiers agree it as a team rule)",
            )
        )

    def _call(self, kind: str, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.client.call(
            "read" if kind == "read" else "write", path, method, *args, what=path, **kwargs
        )

    def _create(self, path: str, *args: Any, exists: Callable[[], bool]) -> None:
        """Create something once: after a failure that may have created it, look it up first.

        ``exists`` checks the natural key (a property's name, a pipeline's label...), so a
        create whose reply was lost is found rather than sent twice.
        """
        self.client.call(
            "write",
            path,
            "create",
            *args,
            what=path,
            create=True,
            lookup=lambda: True if exists() else None,
        )

    def _group_named(self, object_type: str, name: str) -> Any:
        reply = self._call("read", "crm.properties.groups_api", "get_all", object_type)
        return next((g for g in reply.results or [] if g.name == name), None)

    def _group(self, object_type: str) -> _Item:
        name = self.settings.property_group
        found = self._group_named(object_type, name)
        what = f"{object_type}.{name}"
        if found is not None and found.label == GROUP_LABEL:
            return _Item(ProvisionStep("property_group", what, "none"))
        update = property_models.PropertyGroupUpdate(label=GROUP_LABEL)

        def patch() -> None:
            self._call("write", "crm.properties.groups_api", "update", object_type, name, update)

        if found is not None:
            return _Item(ProvisionStep("property_group", what, "update", "label"), patch)
        create = property_models.PropertyGroupCreate(name=name, label=GROUP_LABEL, display_order=-1)

        def post() -> None:
            try:
                self._create(
                    "crm.properties.groups_api",
                    object_type,
                    create,
                    exists=lambda: self._group_named(object_type, name) is not None,
                )
            except HubSpotRequestError as exc:
                if exc.status != 409:
                    raise
                patch()

        return _Item(ProvisionStep("property_group", what, "create"), post)

    def _properties(self, object_type: str) -> dict[str, Any]:
        reply = self._call("read", "crm.properties.core_api", "get_all", object_type)
        return {p.name: p for p in reply.results or []}

    def _property(self, spec: PropertySpec, existing: Any) -> _Item:
        group = self.settings.property_group
        what = f"{spec.object_type}.{spec.name}"
        options = [
            property_models.OptionInput(label=label, value=value, display_order=i, hidden=False)
            for i, (value, label) in enumerate(spec.options)
        ]

        def patch(diff: dict[str, object]) -> None:
            body = property_models.PropertyUpdate(
                **{k: v for k, v in diff.items() if k != "options"},
                **({"options": options} if "options" in diff else {}),
            )
            self._call(
                "write", "crm.properties.core_api", "update", spec.object_type, spec.name, body
            )

        if existing is not None:
            if bool(existing.has_unique_value) != spec.has_unique_value:
                return _Item(
                    ProvisionStep(
                        "property",
                        what,
                        "manual",
                        "unique-value setting differs and HubSpot cannot change it: "
                        "archive the property and provision again",
                    )
                )
            diff = spec.differences(existing, group)
            if not diff:
                return _Item(ProvisionStep("property", what, "none"))
            detail = ", ".join(sorted(diff))
            return _Item(ProvisionStep("property", what, "update", detail), lambda: patch(diff))
        body = property_models.PropertyCreate(
            name=spec.name,
            label=spec.label,
            type=spec.type,
            field_type=spec.field_type,
            group_name=group,
            description=spec.description,
            options=options,
            has_unique_value=spec.has_unique_value,
            form_field=spec.object_type == "deals",
        )

        def post() -> None:
            try:
                self._create(
                    "crm.properties.core_api",
                    spec.object_type,
                    body,
                    exists=lambda: spec.name in self._properties(spec.object_type),
                )
            except HubSpotRequestError as exc:
                if exc.status != 409:
                    raise
                again = self._call(
                    "read", "crm.properties.core_api", "get_by_name", spec.object_type, spec.name
                )
                diff = spec.differences(again, group)
                if diff:
                    patch(diff)

        return _Item(
            ProvisionStep("property", what, "create", f"{spec.type}/{spec.field_type}"), post
        )

    def _label(self) -> _Item:
        label = self.settings.sponsor_label
        path = "crm.associations.v4.schema.definitions_api"

        def labels() -> set[str]:
            reply = self._call("read", path, "get_all", "deals", "contacts")
            return {r.label for r in reply.results or [] if r.label}

        if label in labels():
            return _Item(ProvisionStep("label", f"deals->contacts {label}", "none"))
        body = labels_models.PublicAssociationDefinitionCreateRequest(
            label=label, name=label_name(label)
        )

        def post() -> None:
            try:
                self._create(path, "deals", "contacts", body, exists=lambda: label in labels())
            except HubSpotRequestError as exc:
                if exc.status != 409 or label not in labels():
                    raise

        return _Item(ProvisionStep("label", f"deals->contacts {label}", "create"), post)

    def _pipeline(self, playbook: Playbook) -> list[_Item]:
        name = self.settings.pipeline
        specs = stage_specs(playbook, self.settings.stage_map)
        pipeline = find_pipeline(self.client, name)
        if pipeline is None:
            return self._new_pipeline(name, specs)
        items = [_Item(ProvisionStep("pipeline", name, "none", f"id {pipeline.id}"))]
        items += [self._stage(pipeline, spec) for spec in specs]
        return items

    def _new_pipeline(self, name: str, specs: list[StageSpec]) -> list[_Item]:
        body = pipeline_models.PipelineInput(
            label=name,
            display_order=0,
            stages=[
                pipeline_models.PipelineStageInput(
                    label=s.label, display_order=s.display_order, metadata=s.metadata()
                )
                for s in specs
            ],
        )

        def post() -> None:
            self._create(
                "crm.pipelines.pipelines_api",
                "deals",
                body,
                exists=lambda: find_pipeline(self.client, name) is not None,
            )

        stages = ", ".join(s.label for s in specs)
        items = [_Item(ProvisionStep("pipeline", name, "create", f"stages {stages}"), post)]
        items += [
            _Item(ProvisionStep("stage", f"{name}/{s.label}", "create", "with the pipeline"))
            for s in specs
        ]
        return items

    def _stage(self, pipeline: PipelineInfo, spec: StageSpec) -> _Item:
        what = f"{pipeline.label}/{spec.label}"
        found = next(
            (s for s in pipeline.stages if norm_label(s.label) == norm_label(spec.label)), None
        )
        if spec.mapped:
            if found is None:
                # Planning happens before any write: nothing is changed when this refuses.
                raise ConfigError(
                    missing_stage_targets(
                        {spec.key: spec.label},
                        [s.label for s in pipeline.stages],
                        f"pipeline '{pipeline.label}'",
                    )
                    or f"stage_map.{spec.key}: pipeline '{pipeline.label}' has no such stage",
                    connection=self.client.connection,
                )
            if found.is_closed != spec.is_closed or (spec.key == "won") != found.is_won:
                return _Item(
                    ProvisionStep(
                        "stage",
                        what,
                        "manual",
                        f"mapped to {spec.key!r} but its open/closed/won settings disagree: "
                        "fix the stage's probability and closed flag in HubSpot",
                    )
                )
            return _Item(ProvisionStep("stage", what, "none", f"{spec.key} mapped onto {found.id}"))
        if found is None:
            body = pipeline_models.PipelineStageInput(
                label=spec.label, display_order=spec.display_order, metadata=spec.metadata()
            )

            def exists() -> bool:
                now = find_pipeline(self.client, pipeline.label)
                stages = now.stages if now is not None else ()
                return any(norm_label(s.label) == norm_label(spec.label) for s in stages)

            def post() -> None:
                self._create(
                    "crm.pipelines.pipeline_stages_api",
                    "deals",
                    pipeline.id,
                    body,
                    exists=exists,
                )

            return _Item(ProvisionStep("stage", what, "create"), post)
        if found.is_closed == spec.is_closed and found.probability == spec.probability:
            return _Item(ProvisionStep("stage", what, "none", f"{spec.key} = {found.id}"))
        patch_body = pipeline_models.PipelineStagePatchInput(metadata=spec.metadata())

        def patch() -> None:
            self._call(
                "write",
                "crm.pipelines.pipeline_stages_api",
                "update",
                "deals",
                pipeline.id,
                found.id,
                patch_body,
            )

        return _Item(ProvisionStep("stage", what, "update", "closed/probability"), patch)
