"""Owners v3 (the client calls ``/crm/v3/owners/`` with its trailing slash)."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from servefirst.connectors.hubspot.sandbox.errors import ApiError
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, fixed_scopes


def get_page(req: Req) -> Reply:
    owners = sorted(req.portal.owners.values(), key=lambda o: int(o["id"]))
    email = req.query.get("email")
    if email:
        owners = [o for o in owners if o["email"].lower() == email.lower()]
    limit = req.q_int("limit", 100, 500)
    ids = [int(o["id"]) for o in owners]
    after = req.query.get("after")
    start = bisect_left(ids, int(after)) if after and after.isdigit() else 0
    reply: dict[str, Any] = {"results": owners[start : start + limit]}
    if start + limit < len(owners):
        reply["paging"] = {"next": {"after": str(ids[start + limit])}}
    return 200, reply


def get_one(req: Req) -> Reply:
    owner = req.portal.owners.get(req.path["owner_id"])
    if owner is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Owner {req.path['owner_id']} not found.")
    return 200, owner


SCOPES = fixed_scopes("crm.objects.owners.read")
ROUTES = [
    Endpoint("/crm/v3/owners/", "GET", get_page, SCOPES),
    Endpoint("/crm/v3/owners", "GET", get_page, SCOPES),
    Endpoint("/crm/v3/owners/{owner_id}", "GET", get_one, SCOPES),
]
