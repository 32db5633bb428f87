"""What the benchmark does to each CRM sandbox: start it, read its store, edit records as a rep.

The sandbox runs in the benchmark's own process (a server thread), so the benchmark can read
its store directly to count what a minimal sync would have to read, at no counted request.
Edits go through the real client library and the CRM's batch API, so they stamp the records'
modification dates exactly as a rep's (or an import's) edit would.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minimum import HS_SEARCH_PAGE, DealPage
from servefirst.connectors.sandboxkit import RunningSandbox

#: A realistic Salesforce Enterprise org: 100,000 calls a day plus 1,000 per licence, 50 licences.
SALESFORCE_DAILY_LIMIT = 150_000
#: HubSpot's default deal->contact association type; any other type on a pair is a label.
HS_DEAL_CONTACT = 3
#: Share of engagements a rep edits between the no-change sync and the last one.
EDIT_SHARE = 0.01


def start(crm: str, workdir: Path, engagements: int, *, rate_limits: bool) -> RunningSandbox:
    """A sandbox of ``crm`` seeded with the bench engagements, its config without overlap.

    The sandbox has no search-index lag and shares the clock of the sync, so an incremental
    sync needs no overlap window (``incremental_overlap_seconds = 0``); the connectors' default
    of five minutes would re-read everything a benchmark seeded a minute earlier.
    """
    if crm == "salesforce":
        from servefirst.connectors.salesforce.sandbox import start_sandbox  # noqa: PLC0415

        sandbox = start_sandbox(
            workdir=workdir,
            seed="none",
            stages="servefirst",
            engagements=engagements,
            daily_limit=SALESFORCE_DAILY_LIMIT,
        )
    else:
        from servefirst.connectors.hubspot.sandbox import (  # noqa: PLC0415
            start_sandbox as start_hubspot,
        )

        sandbox = start_hubspot(
            workdir=workdir,
            seed="none",
            engagements=engagements,
            rate_limits=rate_limits,
            search_lag_seconds=0.0,
            tier="professional",
        )
    text = sandbox.config_path.read_text(encoding="utf-8")
    line = f'crm = "{crm}"\n'
    if "incremental_overlap_seconds" not in text:
        text = text.replace(line, line + "incremental_overlap_seconds = 0\n", 1)
        sandbox.config_path.write_text(text, encoding="utf-8")
    return sandbox


def _sf_org(sandbox: RunningSandbox) -> Any:
    return sandbox.seed.__self__.org  # type: ignore[attr-defined]


def _hs_portal(sandbox: RunningSandbox) -> Any:
    return sandbox.server.admin_api.portal  # type: ignore[attr-defined]


def engagement_ids(sandbox: RunningSandbox) -> list[str]:
    """Every engagement's id, in the order the CRM pages them."""
    if sandbox.crm == "salesforce":
        org = _sf_org(sandbox)
        with org.store.lock:
            return sorted(str(i) for i in org.store.tables["Opportunity"])
    portal = _hs_portal(sandbox)
    with portal.lock:
        return [str(i) for i in sorted(portal.tables["deals"].records)]


def hubspot_pages(sandbox: RunningSandbox, ids: Sequence[str]) -> tuple[list[DealPage], int]:
    """Search pages of these deals with what surrounds each, and the portal's owner count."""
    portal = _hs_portal(sandbox)
    store = portal.associations
    pages: list[DealPage] = []
    with portal.lock:
        ordered = sorted(int(i) for i in ids)
        for start in range(0, len(ordered), HS_SEARCH_PAGE):
            part = ordered[start : start + HS_SEARCH_PAGE]
            sponsors = companies = tasks = 0
            for deal in part:
                contacts = store.targets("deals", deal, "contacts")
                sponsors += sum(1 for types in contacts.values() if types - {HS_DEAL_CONTACT})
                companies += min(1, len(store.targets("deals", deal, "companies")))
                tasks += len(store.targets("deals", deal, "tasks"))
            pages.append(DealPage(len(part), sponsors, companies, tasks))
        owners = len(portal.owners)
    return pages, owners


def rep_edits(sandbox: RunningSandbox, today: dt.date) -> list[str]:
    """Reps agree a new Operational Date on 1% of engagements, through the CRM's API."""
    ids = engagement_ids(sandbox)
    step = max(1, round(1 / EDIT_SHARE))
    chosen = ids[::step]
    when = (today + dt.timedelta(days=200)).isoformat()
    if sandbox.crm == "salesforce":
        _salesforce_edit(sandbox, chosen, when)
    else:
        _hubspot_edit(sandbox, chosen, when)
    return chosen


def _salesforce_edit(sandbox: RunningSandbox, ids: list[str], when: str) -> None:
    from simple_salesforce.api import Salesforce  # noqa: PLC0415

    from servefirst.connectors.salesforce.sandbox import client_session  # noqa: PLC0415

    assert sandbox.ca_bundle is not None  # noqa: S101 - the Salesforce sandbox speaks TLS
    sf = Salesforce(
        instance_url=sandbox.url,
        session_id=sandbox.token,
        version="59.0",
        session=client_session(sandbox.ca_bundle),
    )
    for start in range(0, len(ids), 200):
        records = [
            {"attributes": {"type": "Opportunity"}, "id": i, "Operational_Date__c": when}
            for i in ids[start : start + 200]
        ]
        answer = sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": records}
        )
        if not answer or not all(row.get("success") for row in answer):
            raise RuntimeError(f"the rep edit failed: {answer!r:.300}")


def _hubspot_edit(sandbox: RunningSandbox, ids: list[str], when: str) -> None:
    import hubspot  # noqa: PLC0415
    from hubspot.crm.deals import (  # noqa: PLC0415
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url.rstrip("/"))
    for start in range(0, len(ids), 100):
        inputs = [
            SimplePublicObjectBatchInput(id=i, properties={"operational_date": when})
            for i in ids[start : start + 100]
        ]
        client.crm.deals.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))


def split_calls(by_endpoint: dict[str, int]) -> tuple[int, int]:
    """(read, write) calls from the sandbox's counters: GETs, searches and batch reads read.

    Salesforce's list of API versions, which the connector reads for the org's clock when
    nothing else has answered yet, needs no login and costs no API request: not counted.
    """
    read = write = 0
    for name, count in by_endpoint.items():
        method, _, endpoint = name.partition(" ")
        if endpoint == "versions":
            continue
        if method == "GET" or endpoint.endswith("/search") or endpoint.endswith("batch/read"):
            read += count
        else:
            write += count
    return read, write
