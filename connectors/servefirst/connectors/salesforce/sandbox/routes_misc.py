"""The API's front doors: the versions list, the resources of a version, and ``limits``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.http import AfterWrite, Call, api_route, respond
from servefirst.connectors.salesforce.sandbox.org import Org

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


def _resources(call: Call) -> tuple[int, Any]:
    base = f"/services/data/v{call.version}"
    names = ("sobjects", "query", "queryAll", "limits", "composite", "tooling")
    return 200, {name: f"{base}/{name}" for name in names}


def _limits(call: Call) -> tuple[int, Any]:
    budget = call.org.budget
    return 200, {
        "DailyApiRequests": {"Max": budget.limit, "Remaining": max(budget.limit - budget.used, 0)},
        "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
        "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
        "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        "ConcurrentSyncLongRunningRequests": {"Max": 25, "Remaining": 25},
    }


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    return [
        Route("/services/data", _versions, methods=["GET"]),
        Route("/services/data/", _versions, methods=["GET"]),
        *api_route(org, "", ["GET"], _resources, after_write),
        *api_route(org, "/limits", ["GET"], _limits, after_write),
    ]
