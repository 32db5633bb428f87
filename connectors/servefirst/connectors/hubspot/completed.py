"""Deals with a playbook task completed since the watermark: one task search per run.

Completing a task does not touch its deal, so an incremental deal search alone would never see
a rep marking a playbook task done while its problem persists, and the task would stay closed
until the next full scan. One search over tasks (completed, modified since the watermark,
carrying servefirst's key) finds them; the key names the deal, so no association read is
needed, and the deals ride along in the pull's own search as ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import hubspot.crm.objects.tasks as task_models

from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.mapping import TASK_DONE_STATUS, deal_of_task_key
from servefirst.connectors.hubspot.records import next_after, props_of, results
from servefirst.connectors.hubspot.search import (
    ID_PROPERTY,
    MODIFIED_PROPERTY,
    PAGE_SIZE,
    RESULT_CAP,
    epoch_ms,
)

TASK_SEARCH_API = "crm.objects.tasks.search_api"


def completed_task_deals(client: HubSpotClient, key_property: str, since: dt.datetime) -> list[str]:
    """Ids of deals with a playbook task completed (or edited while completed) since ``since``.

    Pages of 200, sorted on the task id; past HubSpot's 10,000-result cap a new window starts
    above the last id read. An empty answer costs one call.
    """
    deals: dict[str, None] = {}
    last_id: str | None = None
    offset: str | None = None
    while True:
        reply = client.call(
            "read",
            TASK_SEARCH_API,
            "do_search",
            public_object_search_request=_request(client, key_property, since, last_id, offset),
            search=True,
            raw=True,
            what="tasks search",
        )
        page = results(reply)
        for task in page:
            deal = deal_of_task_key(str(props_of(task).get(key_property) or ""))
            if deal is not None:
                deals[deal] = None
        following = next_after(reply)
        if not page or following is None:
            return list(deals)
        if following.isdigit() and int(following) + PAGE_SIZE <= RESULT_CAP:
            offset = following
        else:
            last_id, offset = str(max(int(t["id"]) for t in page)), None


def _request(
    client: HubSpotClient,
    key_property: str,
    since: dt.datetime,
    after_id: str | None,
    offset: str | None,
) -> Any:
    def model(cls: type, **values: object) -> Any:
        return client.model(TASK_SEARCH_API, cls, **values)

    filters = [
        model(
            task_models.Filter,
            property_name="hs_task_status",
            operator="EQ",
            value=TASK_DONE_STATUS,
        ),
        model(
            task_models.Filter,
            property_name=MODIFIED_PROPERTY,
            operator="GTE",
            value=epoch_ms(since),
        ),
        model(task_models.Filter, property_name=key_property, operator="HAS_PROPERTY"),
    ]
    if after_id is not None:
        filters.append(
            model(task_models.Filter, property_name=ID_PROPERTY, operator="GT", value=after_id)
        )
    return model(
        task_models.PublicObjectSearchRequest,
        filter_groups=[model(task_models.FilterGroup, filters=filters)],
        sorts=[{"propertyName": ID_PROPERTY, "direction": "ASCENDING"}],
        properties=[key_property],
        limit=PAGE_SIZE,
        after=offset,
    )
