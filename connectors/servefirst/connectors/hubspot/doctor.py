"""``servefirst doctor`` for a HubSpot portal: what a first sync needs, checked one by one.

The checks run in the order a setup goes wrong: the network path to ``base_url``, the token
(and whether it will expire), the private app's scopes, the properties servefirst provisions,
the pipeline's stages, whether the configured pipeline is someone else's (provisioning adds
stages to it), the day's API budget, and the clock. Everything is read-only.

The token's scopes come from HubSpot's private-app token endpoint
(``POST /oauth/v2/private-apps/get/access-token-info``), which the client library does not
wrap: it is called with ``requests``, the token in the body and never in a message.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import requests
from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest

from servefirst.config.settings import HubSpotConnection
from servefirst.connectors.budget import process_limiter
from servefirst.connectors.hubspot.client import HubSpotClient
from servefirst.connectors.hubspot.limits import Pacer, budget_key
from servefirst.connectors.hubspot.mapping import PipelineInfo, expected_stages, norm_label
from servefirst.connectors.hubspot.records import find_pipeline
from servefirst.connectors.hubspot.spec import property_specs
from servefirst.connectors.preflight import (
    Check,
    Checklist,
    budget_check,
    clock_check,
    probe,
    stage_checks,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import AuthError, ServeFirstError, UnreachableError

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"  # noqa: S105 - a URL path
#: Scope -> what servefirst needs it for (the private app must have every one).
REQUIRED_SCOPES: dict[str, str] = {
    "crm.objects.deals.read": "reading deals",
    "crm.objects.deals.write": "writing health and findings on deals",
    "crm.objects.contacts.read": "reading sponsors and tasks",
    "crm.objects.contacts.write": "opening and closing tasks",
    "crm.objects.companies.read": "reading deals' companies",
    "crm.objects.owners.read": "reading deal owners",
    "crm.schemas.deals.read": "reading deal properties and pipelines",
    "crm.schemas.deals.write": "provisioning deal properties and pipeline stages",
    "crm.schemas.contacts.write": "provisioning the task key property",
}
SCOPES_WHERE = "Settings > Integrations > Private Apps > your app > Scopes"
SEARCH_PAGE = 200
ASSOCIATION_BATCH = 1000
OBJECT_BATCH = 100


def diagnose(
    name: str, settings: HubSpotConnection, playbook: Playbook, *, base_dir: Path
) -> list[Check]:
    """Every check for one HubSpot connection, in order; never raises for the portal's state."""
    checks = Checklist()
    ca_bundle = settings.ca_bundle
    if ca_bundle is not None and not ca_bundle.is_absolute():
        ca_bundle = base_dir / ca_bundle
    timeout = min(settings.timeout_seconds, 10.0)
    checks.append(
        probe(settings.base_url, setting="base_url", ca_bundle=ca_bundle, timeout=timeout)
    )
    if checks.failed:
        checks.skip("the rest", "skipped until HubSpot can be reached")
        return checks.checks
    secret = settings.token.reveal(base_dir, f"connection {name}: token")
    token = secret.get_secret_value()
    client = HubSpotClient(
        token=secret,
        base_url=settings.base_url,
        connection=name,
        timeout_seconds=timeout,
        max_retries=0,
        pacer=Pacer(
            settings.api_budget_share, limiter=process_limiter(), key=budget_key(name, settings)
        ),
        ca_bundle=ca_bundle,
    )
    try:
        _with_client(checks, client, settings, playbook, token, ca_bundle)
    finally:
        client.close()
    return checks.checks


def _with_client(
    checks: Checklist,
    client: HubSpotClient,
    settings: HubSpotConnection,
    playbook: Playbook,
    token: str,
    ca_bundle: Path | None,
) -> None:
    readable = True
    try:
        pipeline = find_pipeline(client, settings.pipeline)
    except AuthError as exc:
        if "scope" in exc.message:
            checks.ok("login", "HubSpot accepted the token")
            readable = False
        else:
            checks.fail(
                "login",
                "HubSpot refused the token (revoked, expired or from another portal)",
                "copy the private app's current access token into the secret this "
                "connection's token setting names",
            )
            checks.skip("the rest", "skipped until the token is accepted")
            return
        pipeline = None
    except UnreachableError as exc:
        checks.fail("reachable", exc.message, exc.fix)
        checks.skip("the rest", "skipped until HubSpot can be reached")
        return
    except ServeFirstError as exc:
        checks.fail("login", str(exc), "check base_url and HubSpot's status")
        checks.skip("the rest", "skipped until HubSpot answers")
        return
    else:
        checks.ok("login", "HubSpot accepted the token; CRM API v3 and associations v4 answer")
    _lifetime(checks, token)
    scopes = _scopes(checks, settings, token, ca_bundle)
    if scopes is not None and not {"crm.schemas.deals.read", "crm.objects.deals.read"} & scopes:
        checks.skip("the rest", "skipped until the token can read deals")
        return
    _properties(checks, client, settings)
    if readable:
        deals = _pipeline(checks, client, settings, playbook, pipeline)
    else:
        checks.skip("pipeline", "skipped until the token can read pipelines")
        deals = 0
    _budget(checks, client, settings, deals)
    checks.append(clock_check(client.server_date, "HubSpot"))


def _lifetime(checks: Checklist, token: str) -> None:
    if token.startswith("pat-"):
        checks.ok("token lifetime", "a private app's token does not expire until rotated")
    else:
        checks.warn(
            "token lifetime",
            "the token does not look like a private app's: an OAuth access token expires "
            "after 30 minutes and servefirst cannot renew it",
            "create a private app and use its access token",
        )


def _scopes(
    checks: Checklist, settings: HubSpotConnection, token: str, ca_bundle: Path | None
) -> set[str] | None:
    """The token's scopes, each missing one reported on its own line."""
    url = settings.base_url.rstrip("/") + TOKEN_INFO_PATH
    verify: bool | str = str(ca_bundle) if ca_bundle is not None else True
    try:
        response = requests.post(
            url, json={"tokenKey": token}, timeout=settings.timeout_seconds, verify=verify
        )
        body: Any = response.json() if response.ok else None
    except (requests.RequestException, ValueError):
        body = None
    scopes = body.get("scopes") if isinstance(body, dict) else None
    if not isinstance(scopes, list):
        checks.warn(
            "scopes",
            "HubSpot did not list the token's scopes (not a private app token?)",
            f"check the app has {', '.join(REQUIRED_SCOPES)}",
        )
        return None
    granted = {str(s) for s in scopes}
    missing = [s for s in REQUIRED_SCOPES if s not in granted]
    for scope in missing:
        checks.fail(
            "scopes",
            f"the private app lacks scope {scope}, needed for {REQUIRED_SCOPES[scope]}",
            f"add it in HubSpot ({SCOPES_WHERE}); the token stays the same",
        )
    if not missing:
        checks.ok(
            "scopes", f"the private app has all {len(REQUIRED_SCOPES)} scopes servefirst needs"
        )
    return granted


def _properties(checks: Checklist, client: HubSpotClient, settings: HubSpotConnection) -> None:
    specs = property_specs(settings.fields)
    existing: dict[str, dict[str, Any]] = {}
    for object_type in sorted({s.object_type for s in specs}):
        try:
            reply = client.call("read", "crm.properties.core_api", "get_all", object_type)
        except ServeFirstError as exc:
            checks.fail("properties", f"cannot read {object_type} properties ({exc.message})")
            continue
        existing[object_type] = {p.name: p for p in reply.results or []}
    problems = 0
    for spec in specs:
        found = existing.get(spec.object_type, {}).get(spec.name)
        what = f"{spec.object_type} property {spec.name}"
        if spec.object_type not in existing:
            continue
        if found is None:
            problems += 1
            checks.fail(
                "properties",
                f"{what} does not exist",
                "run `servefirst provision` (or point [connections.<name>.fields] at yours)",
            )
        elif (found.type, found.field_type) != (spec.type, spec.field_type):
            problems += 1
            checks.fail(
                "properties",
                f"{what} is {found.type}/{found.field_type}, servefirst needs "
                f"{spec.type}/{spec.field_type}",
                "point [connections.<name>.fields] at another property, or recreate it",
            )
    if not problems and len(existing) == len({s.object_type for s in specs}):
        checks.ok("properties", f"all {len(specs)} provisioned properties exist")


def _pipeline(
    checks: Checklist,
    client: HubSpotClient,
    settings: HubSpotConnection,
    playbook: Playbook,
    pipeline: PipelineInfo | None,
) -> int:
    """Stage coverage and whose pipeline it is; returns the number of deals in it."""
    if pipeline is None:
        checks.warn(
            "pipeline",
            f"the portal has no deal pipeline labelled '{settings.pipeline}' yet",
            "`servefirst provision` creates it with the playbook's stages",
        )
        return 0
    where = f"pipeline '{pipeline.label}'"
    expected = dict(expected_stages(playbook, settings.stage_map))
    checks.extend(
        stage_checks(
            crm_stages=[s.label for s in pipeline.stages],
            mapped=expected,
            explicit=settings.stage_map,
            unmapped=settings.unmapped_stages,
            where=where,
        )
    )
    deals = _deal_count(client, pipeline.id)
    have = {norm_label(s.label) for s in pipeline.stages}
    added = [
        label
        for key, label in expected.items()
        if norm_label(label) not in have and key not in settings.stage_map
    ]
    if deals and added:
        checks.warn(
            "pipeline",
            f"{where} holds {deals:,} deals servefirst did not create, and `servefirst "
            f"provision` would add stages {', '.join(added)} to it",
            "give servefirst a pipeline of its own (the default 'Serve-first' is created for "
            "you), or map every playbook stage onto this one with stage_map",
        )
    else:
        checks.ok("pipeline", f"{where} ({deals:,} deals)")
    return deals


def _deal_count(client: HubSpotClient, pipeline_id: str) -> int:
    path = "crm.deals.search_api"
    request = client.model(
        path,
        PublicObjectSearchRequest,
        filter_groups=[
            client.model(
                path,
                FilterGroup,
                filters=[
                    client.model(
                        path, Filter, property_name="pipeline", operator="EQ", value=pipeline_id
                    )
                ],
            )
        ],
        properties=["hs_object_id"],
        limit=1,
    )
    reply = client.call(
        "read",
        path,
        "do_search",
        public_object_search_request=request,
        search=True,
        raw=True,
        what="deals count",
    )
    return int((reply or {}).get("total") or 0)


def _budget(
    checks: Checklist, client: HubSpotClient, settings: HubSpotConnection, deals: int
) -> None:
    daily = client.pacer.daily
    if daily is None:
        checks.skip("API budget", "HubSpot did not report the daily limit")
        return
    reads = math.ceil(deals / SEARCH_PAGE) + 3 * math.ceil(deals / ASSOCIATION_BATCH)
    reads += 3 * math.ceil(deals / OBJECT_BATCH)
    writes = 2 * math.ceil(deals / OBJECT_BATCH)
    checks.append(
        budget_check(
            daily_max=daily[0],
            remaining=daily[1],
            share=settings.api_budget_share,
            engagements=deals,
            full_sync_calls=max(reads + writes, 1),
        )
    )
