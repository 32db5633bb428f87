"""Associations v4: labels, labelled associations, reads, batch reads and what they stamp."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicFetchAssociationsBatchRequest,
    BatchResponsePublicAssociationMultiWithLabel,
    BatchResponsePublicAssociationMultiWithLabelWithErrors,
)
from hubspot.crm.associations.v4.schema import ApiException as SchemaApiException
from hubspot.crm.associations.v4.schema import PublicAssociationDefinitionCreateRequest


@pytest.fixture(scope="module")
def sponsor_type(apis: Any) -> int:
    labels = apis.labels.get_all("deals", "contacts").results
    return int(next(label.type_id for label in labels if label.label == "Sponsor"))


def _deal_and_contacts(apis: Any, name: str, n: int = 2) -> tuple[str, list[str]]:
    deal = apis.deals.create({"properties": {"dealname": name}})
    contacts = [
        apis.contacts.create({"properties": {"email": f"{name}-{i}@example.com"}}).id
        for i in range(n)
    ]
    return deal.id, contacts


def test_labels_list_the_default_and_sponsor(apis: Any, sponsor_type: int) -> None:
    labels = apis.labels.get_all("deals", "contacts").results
    assert labels[0].category == "HUBSPOT_DEFINED"
    assert labels[0].type_id == 3
    assert labels[0].label is None
    assert sponsor_type >= 100
    back = {(x.category, x.label) for x in apis.labels.get_all("contacts", "deals").results}
    assert ("USER_DEFINED", "Sponsor") in back


def test_creating_a_label_twice_is_a_409(apis: Any, unique: str) -> None:
    request = PublicAssociationDefinitionCreateRequest(label=f"Champion {unique}", name=unique)
    created = apis.labels.create("deals", "contacts", request)
    assert created.results[0].category == "USER_DEFINED"
    with pytest.raises(SchemaApiException) as caught:
        apis.labels.create("deals", "contacts", request)
    assert caught.value.status == 409


def test_associate_with_a_label_reads_back_with_default_and_label(
    apis: Any, unique: str, sponsor_type: int
) -> None:
    deal_id, (first, second) = _deal_and_contacts(apis, unique)
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=sponsor_type)
    pair, status, _ = apis.assoc.create_with_http_info("deals", deal_id, "contacts", first, [spec])
    assert status == 201
    assert pair.labels == ["Sponsor"]
    apis.assoc.create_default("deals", deal_id, "contacts", second)
    page = apis.assoc.get_page("deals", deal_id, "contacts")
    types = {
        row.to_object_id: {(t.type_id, t.label) for t in row.association_types}
        for row in page.results
    }
    assert types == {first: {(3, None), (sponsor_type, "Sponsor")}, second: {(3, None)}}
    inverse = apis.assoc.get_page("contacts", first, "deals").results[0]
    assert {t.type_id for t in inverse.association_types} == {4, sponsor_type + 1}


def test_wrong_category_for_a_type_is_a_400(apis: Any, unique: str, sponsor_type: int) -> None:
    deal_id, (first, _) = _deal_and_contacts(apis, unique)
    spec = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=sponsor_type)
    with pytest.raises(ApiException) as caught:
        apis.assoc.create("deals", deal_id, "contacts", first, [spec])
    assert caught.value.status == 400


def test_batch_read_returns_labels_and_reports_ids_without_associations(
    apis: Any, unique: str, sponsor_type: int
) -> None:
    deal_id, (first, _) = _deal_and_contacts(apis, unique)
    lonely = apis.deals.create({"properties": {"dealname": f"{unique}-alone"}}).id
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=sponsor_type)
    apis.assoc.create("deals", deal_id, "contacts", first, [spec])
    result, status, _ = apis.assoc_batch.get_page_with_http_info(
        "deals",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": deal_id}, {"id": lonely}]),
    )
    assert status == 207
    assert isinstance(result, BatchResponsePublicAssociationMultiWithLabelWithErrors)
    assert result.results[0]._from.id == deal_id
    assert result.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert result.errors[0].context["fromObjectId"] == [lonely]


def test_batch_read_takes_1000_inputs_not_1001(apis: Any) -> None:
    deal_ids = [d.id for d in apis.deals.get_page(limit=10).results]
    inputs = [{"id": deal_ids[i % len(deal_ids)]} for i in range(1000)]
    result = apis.assoc_batch.get_page(
        "deals", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs)
    )
    assert isinstance(
        result,
        (
            BatchResponsePublicAssociationMultiWithLabel,
            BatchResponsePublicAssociationMultiWithLabelWithErrors,
        ),
    )
    with pytest.raises(ApiException) as caught:
        apis.assoc_batch.get_page(
            "deals",
            "contacts",
            BatchInputPublicFetchAssociationsBatchRequest(inputs=[*inputs, inputs[0]]),
        )
    assert caught.value.status == 400


def test_associating_a_contact_stamps_the_deal_but_a_label_alone_does_not(
    apis: Any, unique: str, sponsor_type: int
) -> None:
    deal_id, (first, _) = _deal_and_contacts(apis, unique)

    def stamp() -> tuple[str, str]:
        props = apis.deals.get_by_id(deal_id, properties=["num_associated_contacts"]).properties
        return props["hs_lastmodifieddate"], props["num_associated_contacts"]

    before, _ = stamp()
    time.sleep(0.005)  # stamps have millisecond resolution
    apis.assoc.create_default("deals", deal_id, "contacts", first)
    after_contact, count = stamp()
    assert after_contact > before
    assert count == "1"
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=sponsor_type)
    apis.assoc.create("deals", deal_id, "contacts", first, [spec])
    assert stamp() == (after_contact, "1")
    time.sleep(0.005)
    apis.assoc.archive("deals", deal_id, "contacts", first)
    after_removal, count = stamp()
    assert after_removal > after_contact
    assert count == "0"


def test_tasks_associate_inline_to_deals(apis: Any, unique: str) -> None:
    deal = apis.deals.create({"properties": {"dealname": unique}})
    task = apis.tasks.create(
        {
            "properties": {"hs_timestamp": "2025-05-01T17:00:00.000Z", "hs_task_subject": unique},
            "associations": [
                {
                    "to": {"id": deal.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
                }
            ],
        }
    )
    rows = apis.assoc.get_page("deals", deal.id, "tasks").results
    assert [(r.to_object_id, r.association_types[0].type_id) for r in rows] == [(task.id, 215)]


def test_removing_the_default_type_removes_the_labels_too(
    apis: Any, unique: str, sponsor_type: int
) -> None:
    deal_id, (first, _) = _deal_and_contacts(apis, unique)
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=sponsor_type)
    apis.assoc.create("deals", deal_id, "contacts", first, [spec])
    apis.assoc_batch.archive_labels(
        "deals",
        "contacts",
        {
            "inputs": [
                {
                    "from": {"id": deal_id},
                    "to": {"id": first},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ]
        },
    )
    assert apis.assoc.get_page("deals", deal_id, "contacts").results == []


def test_removing_only_the_label_keeps_the_association(
    apis: Any, unique: str, sponsor_type: int
) -> None:
    deal_id, (first, _) = _deal_and_contacts(apis, unique)
    spec = AssociationSpec(association_category="USER_DEFINED", association_type_id=sponsor_type)
    apis.assoc.create("deals", deal_id, "contacts", first, [spec])
    label = {"associationCategory": "USER_DEFINED", "associationTypeId": sponsor_type}
    apis.assoc_batch.archive_labels(
        "deals",
        "contacts",
        {"inputs": [{"from": {"id": deal_id}, "to": {"id": first}, "types": [label]}]},
    )
    rows = apis.assoc.get_page("deals", deal_id, "contacts").results
    assert [(r.to_object_id, [t.type_id for t in r.association_types]) for r in rows] == [
        (first, [3])
    ]


def test_v3_association_blocks_page_at_100_while_v4_reads_all(apis: Any, unique: str) -> None:
    deal = apis.deals.create({"properties": {"dealname": unique}})
    contact_ids: list[str] = []
    for chunk in range(2):
        inputs = [
            {"properties": {"email": f"{unique}-{chunk}-{i}@example.com"}, "associations": []}
            for i in range(60)
        ]
        contact_ids += [c.id for c in apis.contacts_batch.create({"inputs": inputs}).results]
    pairs = [{"from": {"id": deal.id}, "to": {"id": c}} for c in contact_ids]
    apis.assoc_batch.create_default("deals", "contacts", {"inputs": pairs})
    block = apis.deals.get_by_id(deal.id, associations=["contacts"]).associations["contacts"]
    assert len(block.results) == 100
    assert block.paging.next.after
    assert len(apis.assoc.get_page("deals", deal.id, "contacts").results) == 120
    counted = apis.deals.get_by_id(deal.id, properties=["num_associated_contacts"])
    assert counted.properties["num_associated_contacts"] == "120"
