"""Batch reads the pull and the apply share: objects by id, associations with labels, pipelines.

Everything here reads in the largest batches HubSpot allows (100 objects, 1,000 association
inputs), never one call per record: a page of 200 deals costs a handful of calls whatever the
number of contacts or tasks around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import hubspot.crm.associations.v4 as assoc_v4
import hubspot.crm.companies as companies_models
import hubspot.crm.contacts as contacts_models
import hubspot.crm.deals as deals_models
import hubspot.crm.objects.tasks as tasks_models

from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.mapping import PipelineInfo, Props, StageInfo

OBJECT_BATCH = 100
ASSOCIATION_BATCH = 1000
ASSOCIATIONS_API = "crm.associations.v4.batch_api"

#: object type -> (API path below the client, the package holding its request models)
OBJECT_APIS: dict[str, tuple[str, ModuleType]] = {
    "deals": ("crm.deals", deals_models),
    "contacts": ("crm.contacts", contacts_models),
    "companies": ("crm.companies", companies_models),
    "tasks": ("crm.objects.tasks", tasks_models),
}

T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def props_of(obj: dict[str, Any]) -> Props:
    """The property map of an object in a raw reply (``{}`` when absent)."""
    props = obj.get("properties")
    return dict(props) if isinstance(props, dict) else {}


def results(reply: Any) -> list[dict[str, Any]]:
    """The ``results`` of a raw reply (``[]`` for an empty one)."""
    found = reply.get("results") if isinstance(reply, dict) else None
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []


def next_after(container: Any) -> str | None:
    """The ``paging.next.after`` cursor of a raw reply or result, if there is one."""
    paging = container.get("paging") if isinstance(container, dict) else None
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return str(after) if after else None


def batch_read(
    client: HubSpotClient, object_type: str, ids: Iterable[str], properties: Sequence[str]
) -> dict[str, Props]:
    """Properties of the objects with these ids; ids HubSpot does not know are left out."""
    path, models = OBJECT_APIS[object_type]
    unique = list(dict.fromkeys(ids))
    found: dict[str, Props] = {}
    for part in chunks(unique, OBJECT_BATCH):
        api = f"{path}.batch_api"
        body = client.model(
            api,
            models.BatchReadInputSimplePublicObjectId,
            inputs=[client.model(api, models.SimplePublicObjectId, id=i) for i in part],
            properties=list(properties),
            properties_with_history=[],
        )
        reply = client.call(
            "read", f"{path}.batch_api", "read", body, raw=True, what=f"{object_type} batch read"
        )
        for obj in results(reply):
            found[str(obj["id"])] = props_of(obj)
    return found


@dataclass(frozen=True)
class Association:
    """One associated record and the labels (and type ids) the association carries."""

    to_id: str
    type_ids: frozenset[int]
    labels: frozenset[str]


def associations(
    client: HubSpotClient, from_type: str, to_type: str, ids: Iterable[str]
) -> dict[str, list[Association]]:
    """Associations of each record, through the v4 batch read (1,000 inputs per call).

    A record with more associations than one reply holds comes back with its own paging
    cursor; those records are read again with their cursor until exhausted. Records without
    associations are simply absent (HubSpot reports them as per-input errors in a 207).
    """
    out: dict[str, list[Association]] = {}
    pending: list[tuple[str, str | None]] = [(i, None) for i in dict.fromkeys(ids)]
    while pending:
        next_round: list[tuple[str, str | None]] = []
        for part in chunks(pending, ASSOCIATION_BATCH):
            body = client.model(
                ASSOCIATIONS_API,
                assoc_v4.BatchInputPublicFetchAssociationsBatchRequest,
                inputs=[
                    client.model(
                        ASSOCIATIONS_API,
                        assoc_v4.PublicFetchAssociationsBatchRequest,
                        id=i,
                        after=after,
                    )
                    for i, after in part
                ],
            )
            reply = client.call(
                "read",
                ASSOCIATIONS_API,
                "get_page",
                from_type,
                to_type,
                body,
                raw=True,
                what=f"{from_type}->{to_type} associations batch read",
            )
            for result in results(reply):
                from_id = str(result["from"]["id"])
                for to in result.get("to") or []:
                    types = to.get("associationTypes") or []
                    out.setdefault(from_id, []).append(
                        Association(
                            to_id=str(to["toObjectId"]),
                            type_ids=frozenset(int(t["typeId"]) for t in types),
                            labels=frozenset(str(t["label"]) for t in types if t.get("label")),
                        )
                    )
                cursor = next_after(result)
                if cursor:
                    next_round.append((from_id, cursor))
        pending = next_round
    return out


def pipelines(client: HubSpotClient) -> list[PipelineInfo]:
    """Every deal pipeline of the portal with its stages (one call)."""
    reply = client.call(
        "read", "crm.pipelines.pipelines_api", "get_all", "deals", raw=True, what="pipelines"
    )
    return [pipeline_info(p) for p in results(reply)]


def pipeline_info(pipeline: dict[str, Any]) -> PipelineInfo:
    """A pipeline of a raw reply as ``PipelineInfo``; stage metadata values are strings."""
    stages = []
    for stage in pipeline.get("stages") or []:
        meta = dict(stage.get("metadata") or {})
        try:
            probability: float | None = float(meta["probability"])
        except (KeyError, TypeError, ValueError):
            probability = None
        stages.append(
            StageInfo(
                id=str(stage["id"]),
                label=str(stage["label"]),
                display_order=int(stage.get("displayOrder") or 0),
                is_closed=str(meta.get("isClosed", "false")).lower() == "true",
                probability=probability,
            )
        )
    stages.sort(key=lambda s: s.display_order)
    return PipelineInfo(id=str(pipeline["id"]), label=str(pipeline["label"]), stages=tuple(stages))


def find_pipeline(client: HubSpotClient, label: str) -> PipelineInfo | None:
    """The deal pipeline labelled ``label`` (case-insensitive), if the portal has one."""
    wanted = label.strip().casefold()
    return next((p for p in pipelines(client) if p.label.strip().casefold() == wanted), None)


class OwnerDirectory:
    """Owner names by id, read once per connector (100 owners per call), only when needed."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self._names: dict[str, str] | None = None

    def name(self, owner_id: str | None) -> str | None:
        if not owner_id:
            return None
        if self._names is None:
            self._names = self._load()
        return self._names.get(owner_id)

    def _load(self) -> dict[str, str]:
        names: dict[str, str] = {}
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100, "archived": False}
            if after:
                kwargs["after"] = after
            reply = self.client.call(
                "read", "crm.owners.owners_api", "get_page", raw=True, what="owners", **kwargs
            )
            for owner in results(reply):
                full = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
                names[str(owner["id"])] = full or str(owner.get("email") or owner["id"])
            after = next_after(reply)
            if not after:
                return names
