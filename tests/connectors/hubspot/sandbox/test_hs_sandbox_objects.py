"""Objects v3 one at a time: paging, reads, creates with associations, updates, archive."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hubspot.crm.deals import ApiException, SimplePublicObjectInputForCreate
from hubspot.crm.objects.tasks import ApiException as TaskApiException

from servefirst.connectors.sandboxkit import RunningSandbox


def _new_deal(apis: Any, name: str, **props: str) -> Any:
    body = SimplePublicObjectInputForCreate(properties={"dealname": name, **props})
    return apis.deals.create(body)


def test_list_pages_with_after_until_no_paging(apis: Any) -> None:
    seen: list[str] = []
    after, pages = None, 0
    while True:
        page = apis.deals.get_page(limit=7, after=after, properties=["dealname"])
        seen.extend(r.id for r in page.results)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) >= 45
    assert pages == -(-len(seen) // 7)
    assert seen == sorted(seen, key=int)


def test_limit_over_100_is_refused(apis: Any) -> None:
    with pytest.raises(ApiException) as caught:
        apis.deals.get_page(limit=101)
    assert caught.value.status == 400


def test_requested_property_without_value_reads_null_and_unknown_is_left_out(
    apis: Any, unique: str
) -> None:
    deal = _new_deal(apis, unique)
    read = apis.deals.get_by_id(deal.id, properties=["dealname", "amount", "no_such_prop"])
    assert read.properties["dealname"] == unique
    assert read.properties["amount"] is None
    assert "no_such_prop" not in read.properties
    assert read.properties["hs_object_id"] == deal.id
    assert read.properties["createdate"].endswith("Z")
    assert read.properties["hs_lastmodifieddate"].endswith("Z")


def test_default_read_returns_the_deal_defaults(apis: Any, unique: str) -> None:
    deal = _new_deal(apis, unique, amount="1500")
    read = apis.deals.get_by_id(deal.id)
    assert set(read.properties) == {
        "dealname", "amount", "closedate", "pipeline", "dealstage",
        "createdate", "hs_lastmodifieddate", "hs_object_id",
    }  # fmt: skip
    assert read.properties["amount"] == "1500"
    assert read.properties["pipeline"] == "default"


def test_create_answers_201_with_inline_association(apis: Any, unique: str) -> None:
    contact = apis.contacts.get_page(limit=1).results[0]
    body = SimplePublicObjectInputForCreate(
        properties={"dealname": unique},
        associations=[
            {
                "to": {"id": contact.id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ],
    )
    created, status, _ = apis.deals.create_with_http_info(body)
    assert status == 201
    read = apis.deals.get_by_id(created.id, associations=["contacts"])
    assert [a.id for a in read.associations["contacts"].results] == [contact.id]


def test_create_with_association_to_missing_record_is_refused(apis: Any, unique: str) -> None:
    body = SimplePublicObjectInputForCreate(
        properties={"dealname": unique},
        associations=[
            {
                "to": {"id": "999999999"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ],
    )
    with pytest.raises(ApiException) as caught:
        apis.deals.create(body)
    assert caught.value.status == 400


def test_update_changes_and_empty_string_clears(apis: Any, unique: str) -> None:
    deal = _new_deal(apis, unique, amount="10")
    updated = apis.deals.update(deal.id, {"properties": {"amount": "", "description": "x"}})
    assert updated.properties["description"] == "x"
    assert updated.properties["hs_lastmodifieddate"] >= deal.properties["hs_lastmodifieddate"]
    read = apis.deals.get_by_id(deal.id, properties=["amount", "description"])
    assert read.properties["amount"] is None


def test_archive_answers_204_then_reads_404(apis: Any, unique: str) -> None:
    deal = _new_deal(apis, unique)
    _, status, _ = apis.deals.archive_with_http_info(deal.id)
    assert status == 204
    with pytest.raises(ApiException) as caught:
        apis.deals.get_by_id(deal.id)
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"
    archived = apis.deals.get_by_id(deal.id, archived=True)
    assert archived.archived is True
    assert archived.archived_at is not None


def test_type_id_paths_reach_the_same_records(
    sandbox: RunningSandbox, apis: Any, unique: str
) -> None:
    deal = _new_deal(apis, unique)
    response = requests.get(
        f"{sandbox.url}/crm/v3/objects/0-3/{deal.id}",
        params={"properties": "dealname,amount"},
        headers={"Authorization": f"Bearer {sandbox.token}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["properties"]["dealname"] == unique
    assert "amount" in response.json()["properties"]


def test_tasks_need_a_due_timestamp(apis: Any, unique: str) -> None:
    with pytest.raises(TaskApiException) as caught:
        apis.tasks.create({"properties": {"hs_task_subject": unique}})
    assert caught.value.status == 400
    assert "REQUIRED_PROPERTY" in caught.value.body


def test_tasks_get_hubspots_defaults(apis: Any, unique: str) -> None:
    task = apis.tasks.create(
        {"properties": {"hs_timestamp": "2025-05-01T17:00:00.000Z", "hs_task_subject": unique}}
    )
    props = apis.tasks.get_by_id(task.id, properties=["hs_task_status", "hs_task_type"]).properties
    assert (props["hs_task_status"], props["hs_task_type"]) == ("NOT_STARTED", "TODO")
    done = apis.tasks.update(task.id, {"properties": {"hs_task_status": "COMPLETED"}})
    assert done.properties["hs_task_status"] == "COMPLETED"
    read = apis.tasks.get_by_id(task.id, properties=["hs_task_completion_date"])
    assert read.properties["hs_task_completion_date"].endswith("Z")


def test_archived_records_list_separately_in_id_order(apis: Any, unique: str) -> None:
    first, second = _new_deal(apis, f"{unique}-1"), _new_deal(apis, f"{unique}-2")
    apis.deals.archive(second.id)
    apis.deals.archive(first.id)
    archived = [r.id for r in apis.deals.get_page(limit=100, archived=True).results]
    assert archived.index(first.id) < archived.index(second.id)
    live = [r.id for r in apis.deals.get_page(limit=100).results]
    assert first.id not in live
