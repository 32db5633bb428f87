"""A HubSpot portal as it comes: its tier's rate limits enforced and search lagging writes.

Also what reads return: ``propertiesWithHistory`` on single and batch reads, and the free-text
search ``query`` looking at the default searchable properties only.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hubspot
import pytest
from hubspot.crm.deals import (
    ApiException,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import PropertyCreate
from urllib3.util.retry import Retry

from servefirst.config.loader import load_playbook, load_settings
from servefirst.connectors.hubspot.sandbox import start_sandbox
from servefirst.connectors.hubspot.sandbox.launch import DEFAULT_SEARCH_LAG_SECONDS
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import provision_connection, sync_connection


@pytest.fixture(scope="module")
def deals(portal: RunningSandbox) -> Iterator[Any]:
    client = hubspot.Client.create(
        access_token=portal.token,
        host=portal.url,
        retry=Retry(total=0),
        client_side_validation=True,
    )
    api = client.crm.deals
    yield api
    api.basic_api.api_client.close()


def _search(deals: Any, query: str) -> Any:
    request = PublicObjectSearchRequest(query=query, properties=["dealname"], limit=10)
    return deals.search_api.do_search(public_object_search_request=request)


def _until_indexed(deals: Any, query: str) -> Any:
    deadline = time.monotonic() + DEFAULT_SEARCH_LAG_SECONDS + 10
    while time.monotonic() < deadline:
        found = _search(deals, query)
        if found.total:
            return found
        time.sleep(0.3)  # search allows 5 requests a second
    raise AssertionError(f"{query!r} never became searchable")


def test_search_lags_creates_by_default(portal: RunningSandbox, deals: Any) -> None:
    assert portal.admin.call("GET", "/search-lag") == {
        "search_lag_seconds": DEFAULT_SEARCH_LAG_SECONDS
    }
    name = f"lagging-{time.time_ns()}"
    created = deals.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"dealname": name})
    )
    assert deals.basic_api.get_by_id(created.id).properties["dealname"] == name  # reads are live
    assert _search(deals, name).total == 0  # the index is not
    assert _until_indexed(deals, name).results[0].id == created.id


def test_rate_limit_refuses_once_the_tier_window_is_used(
    portal: RunningSandbox, deals: Any
) -> None:
    limits = portal.admin.call("GET", "/ratelimits")
    assert limits["enabled"] is True and limits["tier"] == "professional"
    portal.admin.call("POST", "/ratelimits", {"reset_window": True})
    try:
        for _ in range(limits["per_ten_seconds"]):
            deals.basic_api.get_page(limit=1)
        with pytest.raises(ApiException) as info:
            deals.basic_api.get_page(limit=1)
    finally:
        portal.admin.call("POST", "/ratelimits", {"reset_window": True})
    assert info.value.status == 429
    body = info.value.body
    assert '"errorType":"RATE_LIMIT"' in body and '"policyName":"TEN_SECONDLY_ROLLING"' in body
    assert info.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_properties_with_history_on_single_and_batch_reads(deals: Any) -> None:
    created = deals.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"dealname": "v1", "amount": "10"})
    )
    for name in ("v2", "v3"):
        deals.basic_api.update(created.id, SimplePublicObjectInput(properties={"dealname": name}))
    one = deals.basic_api.get_by_id(created.id, properties_with_history=["dealname", "amount"])
    assert [v.value for v in one.properties_with_history["dealname"]] == ["v3", "v2", "v1"]
    assert [v.value for v in one.properties_with_history["amount"]] == ["10"]
    stamps = [v.timestamp for v in one.properties_with_history["dealname"]]
    assert stamps == sorted(stamps, reverse=True)
    batch = deals.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=created.id)],
            properties=["dealname"],
            properties_with_history=["dealname"],
        )
    )
    [result] = batch.results
    assert [v.value for v in result.properties_with_history["dealname"]] == ["v3", "v2", "v1"]
    assert {v.source_type for v in result.properties_with_history["dealname"]} == {"API"}
    plain = deals.basic_api.get_by_id(created.id)
    assert plain.properties_with_history is None


def test_search_query_matches_default_searchable_properties_only(
    portal: RunningSandbox, deals: Any
) -> None:
    client = hubspot.Client.create(access_token=portal.token, host=portal.url)
    client.crm.properties.core_api.create(
        "deals",
        PropertyCreate(
            name="fidelity_notes",
            label="Notes",
            type="string",
            field_type="text",
            group_name="dealinformation",
        ),
    )
    client.crm.properties.core_api.api_client.close()
    marker = f"q{time.time_ns()}"
    named = deals.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"dealname": f"Deal {marker}"})
    )
    described = deals.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"dealname": "Other", "description": marker})
    )
    hidden = deals.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"dealname": "Third", "fidelity_notes": marker})
    )
    time.sleep(DEFAULT_SEARCH_LAG_SECONDS + 0.2)  # every create has reached the index
    found = _search(deals, marker)
    ids = {r.id for r in found.results}
    assert ids == {named.id, described.id} and hidden.id not in ids


def test_the_connector_syncs_a_default_portal_as_a_full_sync_would(tmp_path: Path) -> None:
    """Rate limits on and search lagging: the overlap the sandbox's config sets covers the lag."""
    sandbox = start_sandbox(workdir=tmp_path, seed="none")
    try:
        settings = load_settings(sandbox.config_path)
        playbook = load_playbook(settings)
        provision_connection(settings, playbook, None, dry_run=False)
        sandbox.seed("demo", 0)
        today = dt.datetime.now(dt.UTC).date()
        sync_connection(settings, playbook, None, SyncOptions(as_of=today))  # the index lags
        time.sleep(DEFAULT_SEARCH_LAG_SECONDS + 0.5)
        caught_up = sync_connection(settings, playbook, None, SyncOptions(as_of=today))
        assert caught_up.totals.engagements_read > 0
        time.sleep(DEFAULT_SEARCH_LAG_SECONDS + 0.5)  # its own writes reach the index
        full = sync_connection(
            settings, playbook, None, SyncOptions(as_of=today, full=True, dry_run=True)
        )
        assert full.totals.engagements_read == 40
        assert (
            full.totals.records_updated,
            full.totals.tasks_opened,
            full.totals.tasks_closed,
        ) == (
            0,
            0,
            0,
        )
    finally:
        sandbox.stop()
