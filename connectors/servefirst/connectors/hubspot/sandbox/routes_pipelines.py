"""Pipelines v3 for deals: pipelines and stages (create 201, read, replace, update, archive)."""

from __future__ import annotations

from servefirst.connectors.hubspot.sandbox.errors import validation
from servefirst.connectors.hubspot.sandbox.http import Endpoint, Reply, Req, fixed_scopes
from servefirst.connectors.hubspot.sandbox.pipelines import Pipelines
from servefirst.connectors.hubspot.sandbox.wire import now_ms

BASE = "/crm/v3/pipelines/{object_type}"


def _pipelines(req: Req) -> Pipelines:
    if req.object_type().name != "deals":
        raise validation(f"{req.path['object_type']} has no pipelines in this sandbox")
    return req.portal.pipelines


def _bump(req: Req) -> None:
    req.portal.version += 1


def get_all(req: Req) -> Reply:
    return 200, {"results": [p.to_json() for p in _pipelines(req).live()]}


def create(req: Req) -> Reply:
    pipeline = _pipelines(req).create(req.json_obj(), now_ms())
    _bump(req)
    return 201, pipeline.to_json()


def get_one(req: Req) -> Reply:
    return 200, _pipelines(req).get(req.path["pipeline_id"]).to_json()


def replace(req: Req) -> Reply:
    pipeline = _pipelines(req).replace(req.path["pipeline_id"], req.json_obj(), now_ms())
    _bump(req)
    return 200, pipeline.to_json()


def update(req: Req) -> Reply:
    pipeline = _pipelines(req).update(req.path["pipeline_id"], req.json_obj(), now_ms())
    _bump(req)
    return 200, pipeline.to_json()


def archive(req: Req) -> Reply:
    _pipelines(req).update(req.path["pipeline_id"], {"archived": True}, now_ms())
    _bump(req)
    return 204, None


def stages_all(req: Req) -> Reply:
    pipeline = _pipelines(req).get(req.path["pipeline_id"])
    return 200, {"results": [s.to_json() for s in pipeline.live_stages()]}


def stage_create(req: Req) -> Reply:
    stage = _pipelines(req).add_stage(req.path["pipeline_id"], req.json_obj(), now_ms())
    _bump(req)
    return 201, stage.to_json()


def stage_get(req: Req) -> Reply:
    pipeline = _pipelines(req).get(req.path["pipeline_id"])
    return 200, pipeline.stage(req.path["stage_id"]).to_json()


def _stage_change(req: Req, *, replace: bool) -> Reply:
    stage = _pipelines(req).update_stage(
        req.path["pipeline_id"], req.path["stage_id"], req.json_obj(), now_ms(), replace
    )
    _bump(req)
    return 200, stage.to_json()


def stage_replace(req: Req) -> Reply:
    return _stage_change(req, replace=True)


def stage_update(req: Req) -> Reply:
    return _stage_change(req, replace=False)


def stage_archive(req: Req) -> Reply:
    _pipelines(req).update_stage(
        req.path["pipeline_id"], req.path["stage_id"], {"archived": True}, now_ms(), False
    )
    _bump(req)
    return 204, None


READ = fixed_scopes("crm.objects.deals.read", "crm.objects.deals.write", "crm.schemas.deals.read")
WRITE = fixed_scopes("crm.schemas.deals.write")
STAGES = BASE + "/{pipeline_id}/stages"
ROUTES = [
    Endpoint(BASE, "GET", get_all, READ),
    Endpoint(BASE, "POST", create, WRITE),
    Endpoint(STAGES, "GET", stages_all, READ),
    Endpoint(STAGES, "POST", stage_create, WRITE),
    Endpoint(STAGES + "/{stage_id}", "GET", stage_get, READ),
    Endpoint(STAGES + "/{stage_id}", "PUT", stage_replace, WRITE),
    Endpoint(STAGES + "/{stage_id}", "PATCH", stage_update, WRITE),
    Endpoint(STAGES + "/{stage_id}", "DELETE", stage_archive, WRITE),
    Endpoint(BASE + "/{pipeline_id}", "GET", get_one, READ),
    Endpoint(BASE + "/{pipeline_id}", "PUT", replace, WRITE),
    Endpoint(BASE + "/{pipeline_id}", "PATCH", update, WRITE),
    Endpoint(BASE + "/{pipeline_id}", "DELETE", archive, WRITE),
]
