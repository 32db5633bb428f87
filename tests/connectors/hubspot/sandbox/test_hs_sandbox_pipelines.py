"""Pipelines and stages: string metadata, probability, 201 on create, 409 on a duplicate."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot.crm.deals import ApiException as DealApiException
from hubspot.crm.pipelines import ApiException, PipelineInput, PipelineStageInput


def _input(label: str, stages: list[tuple[str, str]]) -> PipelineInput:
    return PipelineInput(
        label=label,
        display_order=5,
        stages=[
            PipelineStageInput(label=s, display_order=i, metadata={"probability": p})
            for i, (s, p) in enumerate(stages)
        ],
    )


def test_default_and_serve_first_pipelines_exist(apis: Any) -> None:
    pipelines = {p.label: p for p in apis.pipelines.get_all("deals").results}
    assert pipelines["Sales Pipeline"].id == "default"
    stages = [s.label for s in pipelines["Serve-first"].stages]
    assert stages == ["Discover", "Diagnose", "Design", "Deliver", "Closed Won", "Closed Lost"]
    won = pipelines["Serve-first"].stages[4]
    # seeded as the connector provisions it (spec.StageSpec.metadata writes "1", not "1.0")
    assert won.metadata["isClosed"] == "true" and float(won.metadata["probability"]) == 1.0


def test_create_answers_201_with_string_metadata(apis: Any, unique: str) -> None:
    created, status, _ = apis.pipelines.create_with_http_info(
        "deals", _input(unique, [("Open", "0.5"), ("Won", "1.0")])
    )
    assert status == 201
    assert created.stages[0].metadata == {"probability": "0.5", "isClosed": "false"}
    assert apis.pipelines.get_by_id("deals", created.id).label == unique


def test_duplicate_label_is_a_409(apis: Any, unique: str) -> None:
    apis.pipelines.create("deals", _input(unique, [("Open", "0.5")]))
    with pytest.raises(ApiException) as caught:
        apis.pipelines.create("deals", _input(unique, [("Open", "0.5")]))
    assert caught.value.status == 409


@pytest.mark.parametrize(
    "metadata", [{}, {"probability": "0.25"}, {"probability": "1.5"}, {"probability": "high"}]
)
def test_stage_probability_must_be_tenths_between_0_and_1(
    apis: Any, unique: str, metadata: dict[str, str]
) -> None:
    body = PipelineInput(
        label=unique,
        display_order=0,
        stages=[PipelineStageInput(label="x", display_order=0, metadata=metadata)],
    )
    with pytest.raises(ApiException) as caught:
        apis.pipelines.create("deals", body)
    assert caught.value.status == 400


def test_stages_can_be_added_and_renamed(apis: Any, unique: str) -> None:
    pipeline = apis.pipelines.create("deals", _input(unique, [("Open", "0.5")]))
    stage, status, _ = apis.stages.create_with_http_info(
        "deals",
        pipeline.id,
        PipelineStageInput(label="Later", display_order=1, metadata={"probability": "0.7"}),
    )
    assert status == 201
    renamed = apis.stages.update("deals", pipeline.id, stage.id, {"label": "Much later"})
    assert renamed.label == "Much later"
    labels = [s.label for s in apis.stages.get_all("deals", pipeline.id).results]
    assert labels == ["Open", "Much later"]


def test_deal_stage_must_belong_to_the_pipeline(apis: Any, unique: str) -> None:
    pipeline = apis.pipelines.create("deals", _input(unique, [("Open", "0.5")]))
    with pytest.raises(DealApiException) as caught:
        apis.deals.create(
            {"properties": {"dealname": unique, "pipeline": pipeline.id, "dealstage": "closedwon"}}
        )
    assert caught.value.status == 400
    ok = apis.deals.create(
        {
            "properties": {
                "dealname": unique,
                "pipeline": pipeline.id,
                "dealstage": pipeline.stages[0].id,
            }
        }
    )
    assert ok.properties["dealstage"] == pipeline.stages[0].id
