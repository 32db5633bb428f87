"""Every kind of sandbox response through hubspot-api-client with client_side_validation=True.

The client checks required fields and enum values while it deserializes, so a response missing
``createdAt`` or carrying a wrong ``status`` enum fails here, not in the connector.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest

from servefirst.connectors.sandboxkit import RunningSandbox


@dataclass
class _Raw:
    """What ApiClient.deserialize reads from a response."""

    data: bytes


@pytest.fixture(scope="module")
def ids(apis: Any) -> dict[str, Any]:
    deal = apis.deals.get_page(limit=1, properties=["dealname"]).results[0]
    contact = apis.contacts.get_page(limit=1).results[0]
    task = apis.tasks.create({"properties": {"hs_timestamp": "2025-05-01T17:00:00.000Z"}})
    pipeline = apis.pipelines.get_all("deals").results[-1]
    sponsor = next(x.type_id for x in apis.labels.get_all("deals", "contacts").results if x.label)
    return {
        "deal": deal.id,
        "contact": contact.id,
        "task": task.id,
        "pipeline": pipeline.id,
        "stage": pipeline.stages[0].id,
        "sponsor": sponsor,
    }


@dataclass
class Ctx:
    """What each call needs: the cached API objects and ids of records to touch."""

    apis: Any
    ids: dict[str, Any]


CALLS: list[tuple[str, str, Callable[[Ctx], Any]]] = [
    (
        "deals page",
        "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging",
        lambda c: c.apis.deals.get_page(limit=2, associations=["contacts"]),
    ),
    (
        "deal by id",
        "SimplePublicObjectWithAssociations",
        lambda c: c.apis.deals.get_by_id(c.ids["deal"], associations=["contacts", "companies"]),
    ),
    (
        "deal update",
        "SimplePublicObject",
        lambda c: c.apis.deals.update(c.ids["deal"], {"properties": {"playbook_findings": "ok"}}),
    ),
    (
        "deal search",
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        lambda c: c.apis.deals_search.do_search(
            public_object_search_request=PublicObjectSearchRequest(limit=3)
        ),
    ),
    (
        "deal batch read",
        "BatchResponseSimplePublicObject",
        lambda c: c.apis.deals_batch.read(
            {"inputs": [{"id": c.ids["deal"]}], "properties": [], "propertiesWithHistory": []}
        ),
    ),
    (
        "deal batch read 207",
        "BatchResponseSimplePublicObjectWithErrors",
        lambda c: c.apis.deals_batch.read(
            {"inputs": [{"id": "1"}], "properties": [], "propertiesWithHistory": []}
        ),
    ),
    (
        "deal batch update",
        "BatchResponseSimplePublicObject",
        lambda c: c.apis.deals_batch.update(
            {"inputs": [{"id": c.ids["deal"], "properties": {"playbook_findings": "x"}}]}
        ),
    ),
    (
        "contact batch upsert",
        "BatchResponseSimplePublicUpsertObject",
        lambda c: c.apis.contacts_batch.upsert(
            {"inputs": [{"idProperty": "email", "id": "sweep@example.com", "properties": {}}]}
        ),
    ),
    (
        "task by id",
        "SimplePublicObjectWithAssociations",
        lambda c: c.apis.tasks.get_by_id(c.ids["task"]),
    ),
    (
        "task search",
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        lambda c: c.apis.tasks_search.do_search(public_object_search_request={"limit": 1}),
    ),
    (
        "properties",
        "CollectionResponsePropertyNoPaging",
        lambda c: c.apis.properties.get_all("deals"),
    ),
    ("property", "ModelProperty", lambda c: c.apis.properties.get_by_name("deals", "dealstage")),
    (
        "task properties",
        "CollectionResponsePropertyNoPaging",
        lambda c: c.apis.properties.get_all("tasks"),
    ),
    ("groups", "CollectionResponsePropertyGroupNoPaging", lambda c: c.apis.groups.get_all("deals")),
    (
        "pipelines",
        "CollectionResponsePipelineNoPaging",
        lambda c: c.apis.pipelines.get_all("deals"),
    ),
    ("pipeline", "Pipeline", lambda c: c.apis.pipelines.get_by_id("deals", c.ids["pipeline"])),
    (
        "stage",
        "PipelineStage",
        lambda c: c.apis.stages.get_by_id("deals", c.ids["pipeline"], c.ids["stage"]),
    ),
    (
        "stages",
        "CollectionResponsePipelineStageNoPaging",
        lambda c: c.apis.stages.get_all("deals", c.ids["pipeline"]),
    ),
    (
        "labels",
        "CollectionResponseAssociationSpecWithLabelNoPaging",
        lambda c: c.apis.labels.get_all("deals", "contacts"),
    ),
    (
        "association create",
        "LabelsBetweenObjectPair",
        lambda c: c.apis.assoc.create(
            "deals",
            c.ids["deal"],
            "contacts",
            c.ids["contact"],
            [
                AssociationSpec(
                    association_category="USER_DEFINED", association_type_id=c.ids["sponsor"]
                )
            ],
        ),
    ),
    (
        "association default",
        "BatchResponsePublicDefaultAssociation",
        lambda c: c.apis.assoc.create_default("tasks", c.ids["task"], "deals", c.ids["deal"]),
    ),
    (
        "association page",
        "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging",
        lambda c: c.apis.assoc.get_page("deals", c.ids["deal"], "contacts"),
    ),
    (
        "association batch read",
        "BatchResponsePublicAssociationMultiWithLabel",
        lambda c: c.apis.assoc_batch.get_page(
            "deals", "contacts", {"inputs": [{"id": c.ids["deal"]}]}
        ),
    ),
    (
        "association batch read 207",
        "BatchResponsePublicAssociationMultiWithLabelWithErrors",
        lambda c: c.apis.assoc_batch.get_page("deals", "contacts", {"inputs": [{"id": "1"}]}),
    ),
    (
        "association batch create",
        "BatchResponseLabelsBetweenObjectPair",
        lambda c: c.apis.assoc_batch.create(
            "deals",
            "contacts",
            {
                "inputs": [
                    {
                        "from": {"id": c.ids["deal"]},
                        "to": {"id": c.ids["contact"]},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
                        ],
                    }
                ]
            },
        ),
    ),
    (
        "owners",
        "CollectionResponsePublicOwnerForwardPaging",
        lambda c: c.apis.owners.get_page(limit=2),
    ),
    ("owner", "PublicOwner", lambda c: c.apis.owners.get_by_id("70000001")),
]


@pytest.mark.parametrize(("what", "model", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_response_deserializes_with_validation(
    apis: Any, ids: dict[str, Any], what: Any, model: Any, call: Any
) -> None:
    result = call(Ctx(apis, ids))
    assert type(result).__name__ == model, what


ERRORS: dict[str, Callable[[Any], Any]] = {
    "400": lambda a: a.deals.create({"properties": {"amount": "x"}}),
    "401": lambda a: a.deals.get_page(limit=1),
    "403": lambda a: a.deals.get_page(limit=1),
    "404": lambda a: a.deals.get_by_id("1"),
    "409": lambda a: a.properties.create(
        "deals",
        {"name": "dealname", "label": "x", "type": "string", "fieldType": "text",
         "groupName": "dealinformation"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("status", sorted(ERRORS))
def test_error_bodies_deserialize_as_hubspot_errors(
    sandbox: RunningSandbox, apis: Any, connect: Any, status: Any
) -> None:
    target = apis
    if status == "401":
        target = connect(sandbox.url, "pat-na1-bogus")
    if status == "403":
        token = sandbox.admin.call("POST", "/tokens", {"scopes": []})["token"]
        target = connect(sandbox.url, token)
    with pytest.raises(Exception) as caught:
        ERRORS[status](target)
    error: Any = caught.value
    assert str(error.status) == status
    model = apis.deals.api_client.deserialize(_Raw(error.body.encode()), "Error")
    assert model.correlation_id
    assert model.category
    assert json.loads(error.body)["status"] == "error"


def test_rate_limit_body_has_no_category_so_the_client_cannot_type_it(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    apis = connect(empty_sandbox.url, empty_sandbox.token)
    empty_sandbox.admin.inject("limit", policy="ten_secondly")
    with pytest.raises(ApiException) as caught:
        apis.deals.get_page(limit=1)
    assert caught.value.status == 429
    with pytest.raises(ValueError, match="category"):
        apis.deals.api_client.deserialize(_Raw(caught.value.body.encode()), "Error")
