"""Batch endpoints: 207 multi-status, all-or-nothing validation, upsert, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.deals import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
)
from hubspot.crm.properties import PropertyCreate


def _create(apis: Any, names: list[str]) -> list[str]:
    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[{"properties": {"dealname": n}, "associations": []} for n in names]
    )
    result, status, _ = apis.deals_batch.create_with_http_info(body)
    assert status == 201
    assert isinstance(result, BatchResponseSimplePublicObject)
    return [r.id for r in result.results]


def _read(ids: list[str]) -> BatchReadInputSimplePublicObjectId:
    return BatchReadInputSimplePublicObjectId(
        inputs=[{"id": i} for i in ids], properties=["dealname"], properties_with_history=[]
    )


def test_batch_read_reports_missing_ids_in_a_207(apis: Any, unique: str) -> None:
    ids = _create(apis, [f"{unique}-a", f"{unique}-b"])
    result, status, _ = apis.deals_batch.read_with_http_info(_read([*ids, "999999999"]))
    assert status == 207
    assert isinstance(result, BatchResponseSimplePublicObjectWithErrors)
    assert sorted(r.id for r in result.results) == sorted(ids)
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["999999999"]}


def test_batch_read_all_found_answers_200(apis: Any, unique: str) -> None:
    ids = _create(apis, [f"{unique}-a"])
    result, status, _ = apis.deals_batch.read_with_http_info(_read(ids))
    assert status == 200
    assert result.results[0].properties["dealname"] == f"{unique}-a"


def test_batch_update_updates_found_and_reports_missing(apis: Any, unique: str) -> None:
    ids = _create(apis, [f"{unique}-a", f"{unique}-b"])
    inputs = [{"id": i, "properties": {"playbook_health": "at_risk"}} for i in ids]
    inputs.append({"id": "999999998", "properties": {"playbook_health": "at_risk"}})
    result, status, _ = apis.deals_batch.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(inputs=inputs)
    )
    assert status == 207
    assert {r.id for r in result.results} == set(ids)
    assert result.errors[0].context["ids"] == ["999999998"]
    read = apis.deals_batch.read(_read(ids))
    assert read.results  # still readable
    for deal_id in ids:
        deal = apis.deals.get_by_id(deal_id, properties=["playbook_health"])
        assert deal.properties["playbook_health"] == "at_risk"


def test_batch_update_with_an_invalid_value_writes_nothing(apis: Any, unique: str) -> None:
    ids = _create(apis, [f"{unique}-a", f"{unique}-b"])
    inputs = [
        {"id": ids[0], "properties": {"playbook_health": "on_track"}},
        {"id": ids[1], "properties": {"playbook_health": "sideways"}},
    ]
    with pytest.raises(ApiException) as caught:
        apis.deals_batch.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    assert caught.value.status == 400
    assert "INVALID_OPTION" in json.loads(caught.value.body)["message"]
    deal = apis.deals.get_by_id(ids[0], properties=["playbook_health"])
    assert deal.properties["playbook_health"] is None


def test_more_than_100_inputs_is_a_400(apis: Any) -> None:
    with pytest.raises(ApiException) as caught:
        apis.deals_batch.read(_read([str(i) for i in range(101)]))
    assert caught.value.status == 400


def test_batch_archive_answers_204(apis: Any, unique: str) -> None:
    ids = _create(apis, [f"{unique}-a"])
    _, status, _ = apis.deals_batch.archive_with_http_info(
        BatchInputSimplePublicObjectId(inputs=[{"id": ids[0]}, {"id": "999999997"}])
    )
    assert status == 204
    with pytest.raises(ApiException):
        apis.deals.get_by_id(ids[0])


@pytest.fixture(scope="module")
def upsert_key(apis: Any) -> str:
    apis.properties.create(
        "deals",
        PropertyCreate(
            name="engagement_key",
            label="Engagement key",
            type="string",
            field_type="text",
            group_name="serve_first",
            has_unique_value=True,
        ),
    )
    return "engagement_key"


def test_upsert_creates_then_updates_by_unique_property(
    apis: Any, unique: str, upsert_key: str
) -> None:
    def upsert(amount: str) -> Any:
        return apis.deals_batch.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[
                    {
                        "idProperty": upsert_key,
                        "id": unique,
                        "properties": {"dealname": unique, "amount": amount},
                    }
                ]
            )
        )

    first, second = upsert("1"), upsert("2")
    assert first.results[0].new is True
    assert second.results[0].new is False
    assert first.results[0].id == second.results[0].id
    read = apis.deals.get_by_id(unique, id_property=upsert_key, properties=["amount"])
    assert read.properties["amount"] == "2"


def test_upsert_needs_a_unique_property(apis: Any, unique: str) -> None:
    body = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[{"idProperty": "dealname", "id": unique, "properties": {}}]
    )
    with pytest.raises(ApiException) as caught:
        apis.deals_batch.upsert(body)
    assert caught.value.status == 400


def test_duplicate_unique_value_in_create_is_a_409(apis: Any, unique: str, upsert_key: str) -> None:
    body = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            {"properties": {"dealname": "a", upsert_key: unique}, "associations": []},
            {"properties": {"dealname": "b", upsert_key: unique}, "associations": []},
        ]
    )
    with pytest.raises(ApiException) as caught:
        apis.deals_batch.create(body)
    assert caught.value.status == 409
