"""The API's front doors: the versions list, the resources of a version, and ``limits``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.http import AfterWrite, Call, api_route, respond
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.routes_identity import identity_url

#: (version, release label) served by ``GET /services/data/``; any vNN.N is accepted anyway.
VERSIONS = (
    ("55.0", "Summer '22"),
    ("56.0", "Winter '23"),
    ("57.0", "Spring '23"),
    ("58.0", "Summer '23"),
    ("59.0", "Winter '24"),
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
)


async def _versions(_request: Request) -> Response:
    payload = [
        {"label": label, "url": f"/services/data/v{version}", "version": version}
        for version, label in VERSIONS
    ]
    return respond(200, payload, {})


#: The version resources the sandbox serves, as ``GET /services/data/vNN.N/`` lists them.
RESOURCES = ("sobjects", "query", "queryAll", "limits", "composite", "tooling")


def _resources(call: Call) -> tuple[int, Any]:
    """Every resource served, plus ``identity``: the caller's identity URL (absolute)."""
    base = f"/services/data/v{call.version}"
    listing = {name: f"{base}/{name}" for name in RESOURCES}
    listing["identity"] = identity_url(call.org, call.user_id)
    return 200, dict(sorted(listing.items()))


#: Limits the org reports that nothing in the sandbox consumes: (Max, Remaining) = Max.
#: Values are an Enterprise Edition org's defaults; the keys are the ones the limits resource
#: documents.
_STATIC_LIMITS = {
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyAsyncApexExecutions": 250_000,
    "DailyAsyncApexTests": 500,
    "DailyBulkV2QueryFileStorageMB": 976_562,
    "DailyDurableGenericStreamingApiEvents": 10_000,
    "DailyDurableStreamingApiEvents": 10_000,
    "DailyGenericStreamingApiEvents": 10_000,
    "DailyStandardVolumePlatformEvents": 10_000,
    "DailyStreamingApiEvents": 10_000,
    "DailyWorkflowEmails": 390,
    "DataStorageMB": 1024,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 1024,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999_999_999,
    "HourlyODataCallout": 10_000,
    "HourlyPublishedPlatformEvents": 50_000,
    "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 1000,
    "MassEmail": 5000,
    "PermissionSets": 1500,
    "SingleEmail": 5000,
    "StreamingApiConcurrentClients": 20,
}
DAILY_BULK_BATCHES = 15_000
DAILY_BULK_QUERY_JOBS = 10_000


def _limit(maximum: int, used: int = 0) -> dict[str, int]:
    return {"Max": maximum, "Remaining": max(maximum - used, 0)}


def _limits(call: Call) -> tuple[int, Any]:
    """The documented limits, sorted by name; the API budget and Bulk usage are live."""
    org = call.org
    budget = org.budget
    live = {
        "DailyApiRequests": _limit(budget.limit, budget.used),
        "DailyBulkApiBatches": _limit(DAILY_BULK_BATCHES, org.bulk_batches_used),
        "DailyBulkV2QueryJobs": _limit(DAILY_BULK_QUERY_JOBS, org.bulk_query_jobs_used),
    }
    static = {name: _limit(maximum) for name, maximum in _STATIC_LIMITS.items()}
    return 200, dict(sorted({**static, **live}.items()))


def _tooling(call: Call) -> tuple[int, Any]:
    """The Tooling API's own resources that the sandbox serves."""
    base = f"/services/data/v{call.version}/tooling"
    return 200, {name: f"{base}/{name}" for name in ("query", "sobjects")}


def _composite(call: Call) -> tuple[int, Any]:
    """The composite resources the sandbox serves: sObject Collections."""
    return 200, {"sobjects": f"/services/data/v{call.version}/composite/sobjects"}


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    return [
        Route("/services/data", _versions, methods=["GET"]),
        Route("/services/data/", _versions, methods=["GET"]),
        *api_route(org, "", ["GET"], _resources, after_write),
        *api_route(org, "/limits", ["GET"], _limits, after_write),
        *api_route(org, "/tooling", ["GET"], _tooling, after_write),
        *api_route(org, "/composite", ["GET"], _composite, after_write),
    ]
