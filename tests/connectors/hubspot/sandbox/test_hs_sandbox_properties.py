"""Properties and groups: create 201, 409 on duplicates, type validation, options, tasks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.properties import (
    ApiException,
    BatchReadInputPropertyName,
    BatchResponsePropertyWithErrors,
    ModelProperty,
    PropertyCreate,
    PropertyGroupCreate,
)


def _create(apis: Any, object_type: str = "deals", **fields: Any) -> Any:
    body = {"group_name": "serve_first", "label": "Label", **fields}
    return apis.properties.create_with_http_info(object_type, PropertyCreate(**body))


def test_create_answers_201_with_the_full_definition(apis: Any, unique: str) -> None:
    created, status, _ = _create(
        apis,
        name=f"{unique}_stage_gate",
        type="enumeration",
        field_type="select",
        options=[{"label": "Open", "value": "open", "hidden": False, "displayOrder": 0}],
        description="why",
    )
    assert status == 201
    assert isinstance(created, ModelProperty)
    assert created.options[0].value == "open"
    assert created.has_unique_value is False
    assert created.modification_metadata.archivable is True
    read = apis.properties.get_by_name("deals", f"{unique}_stage_gate")
    assert read.description == "why"


def test_duplicate_name_is_a_409(apis: Any, unique: str) -> None:
    _create(apis, name=unique, type="string", field_type="text")
    with pytest.raises(ApiException) as caught:
        _create(apis, name=unique, type="string", field_type="text")
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["category"] == "OBJECT_ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("type_", "field_type"),
    [("string", "select"), ("number", "text"), ("date", "number"), ("enumeration", "text")],
)
def test_field_type_must_suit_the_type(apis: Any, unique: str, type_: Any, field_type: Any) -> None:
    with pytest.raises(ApiException) as caught:
        _create(apis, name=unique, type=type_, field_type=field_type)
    assert caught.value.status == 400


def test_unknown_group_is_a_400(apis: Any, unique: str) -> None:
    with pytest.raises(ApiException) as caught:
        apis.properties.create(
            "deals",
            PropertyCreate(
                name=unique, label="x", type="string", field_type="text", group_name="nope"
            ),
        )
    assert caught.value.status == 400


def test_tasks_take_custom_properties_but_not_unique_ones(apis: Any, unique: str) -> None:
    plain = PropertyCreate(
        name=f"{unique}_key",
        label="Key",
        type="string",
        field_type="text",
        group_name="taskinformation",
    )
    _, status, _ = apis.properties.create_with_http_info("tasks", plain)
    assert status == 201
    unique_key = PropertyCreate(
        name=f"{unique}_ukey",
        label="Key",
        type="string",
        field_type="text",
        group_name="taskinformation",
        has_unique_value=True,
    )
    with pytest.raises(ApiException) as caught:
        apis.properties.create("tasks", unique_key)
    assert caught.value.status == 400


def test_update_changes_label_and_options(apis: Any, unique: str) -> None:
    first = [{"label": "Old", "value": "old", "hidden": False, "displayOrder": 0}]
    _create(apis, name=unique, type="enumeration", field_type="radio", options=first)
    updated = apis.properties.update(
        "deals",
        unique,
        {
            "label": "New",
            "options": [{"label": "A", "value": "a", "hidden": False, "displayOrder": 0}],
        },
    )
    assert updated.label == "New"
    assert [o.value for o in updated.options] == ["a"]


def test_enumerations_need_options(apis: Any, unique: str) -> None:
    with pytest.raises(ApiException) as caught:
        _create(apis, name=unique, type="enumeration", field_type="select", options=[])
    assert caught.value.status == 400


def test_unique_flag_cannot_change(apis: Any, unique: str) -> None:
    _create(apis, name=unique, type="string", field_type="text")
    with pytest.raises(ApiException) as caught:
        apis.properties.update("deals", unique, {"hasUniqueValue": True})
    assert caught.value.status == 400


def test_get_all_lists_builtin_and_custom(apis: Any) -> None:
    names = {p.name for p in apis.properties.get_all("deals").results}
    assert {"dealname", "closedate", "operational_date", "playbook_health"} <= names


def test_stage_options_follow_the_pipelines(apis: Any) -> None:
    stage = apis.properties.get_by_name("deals", "dealstage")
    assert any(o.label.startswith("Discover") for o in stage.options)


def test_batch_read_reports_unknown_names(apis: Any) -> None:
    result = apis.properties_batch.read(
        "deals",
        BatchReadInputPropertyName(inputs=[{"name": "dealname"}, {"name": "nope"}], archived=False),
    )
    assert isinstance(result, BatchResponsePropertyWithErrors)
    assert [p.name for p in result.results] == ["dealname"]


def test_groups_create_201_then_409(apis: Any, unique: str) -> None:
    group, status, _ = apis.groups.create_with_http_info(
        "deals", PropertyGroupCreate(name=unique, label="Group")
    )
    assert status == 201
    assert group.name == unique
    with pytest.raises(ApiException) as caught:
        apis.groups.create("deals", PropertyGroupCreate(name=unique, label="Group"))
    assert caught.value.status == 409
    assert unique in {g.name for g in apis.groups.get_all("deals").results}
