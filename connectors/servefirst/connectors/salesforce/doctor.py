"""``servefirst doctor`` for a Salesforce org: what a first sync needs, checked one by one.

The checks run in the order a setup goes wrong: the network path (DNS, port, certificate),
the login and how long its token lives, the API version, the integration user's access to the
objects and to every field servefirst provisions (a field without field-level security is
invisible to it), the stages, the day's API budget, and the clock. Everything is read-only:
running doctor changes nothing in the org. Once the org cannot be reached or refuses the
login, the checks that need it are skipped rather than failed again.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import requests
from simple_salesforce.format import format_soql

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.preflight import (
    Check,
    Checklist,
    Status,
    budget_check,
    clock_check,
    probe,
    stage_checks,
)
from servefirst.connectors.salesforce.client import SalesforceClient, restful, tooling
from servefirst.connectors.salesforce.fields import field_specs
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.retry import RetryPolicy
from servefirst.connectors.salesforce.stages import STAGES_SOQL, active_stage_names
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import AuthError, ServeFirstError, UnreachableError

#: Object -> (describe flag, what servefirst does with it) the integration user needs.
OBJECT_ACCESS: tuple[tuple[str, str, str], ...] = (
    ("Opportunity", "queryable", "read opportunities"),
    ("Opportunity", "updateable", "write health and findings on opportunities"),
    ("OpportunityContactRole", "queryable", "read sponsors (contact roles)"),
    ("Contact", "queryable", "read sponsors' names"),
    ("Task", "createable", "open playbook tasks"),
    ("Task", "updateable", "close playbook tasks"),
)
QUERY_PAGE = 2000
WRITE_BATCH = 200


def diagnose(
    name: str, settings: SalesforceConnection, playbook: Playbook, *, base_dir: Path
) -> list[Check]:
    """Every check for one Salesforce connection, in order; never raises for the org's state."""
    checks = Checklist()
    ca_bundle = settings.ca_bundle
    if ca_bundle is not None and not ca_bundle.is_absolute():
        ca_bundle = base_dir / ca_bundle
    timeout = min(settings.timeout_seconds, 10.0)
    urls = [("instance_url", settings.instance_url)]
    if settings.auth.method != "token" and _origin(settings.auth.login_url) != _origin(
        settings.instance_url
    ):
        urls.append(("auth.login_url", settings.auth.login_url))
    for setting, url in urls:
        checks.append(probe(url, setting=setting, ca_bundle=ca_bundle, timeout=timeout))
    if checks.failed:
        checks.skip("the rest", "skipped until Salesforce can be reached")
        return checks.checks
    client = SalesforceClient(name, settings, base_dir=base_dir, retry=RetryPolicy(max_retries=0))
    try:
        _with_client(checks, client, settings, playbook)
    finally:
        client.close()
    return checks.checks


def _origin(url: str) -> str:
    return url.rstrip("/").lower()


def _with_client(
    checks: Checklist, client: SalesforceClient, settings: SalesforceConnection, playbook: Playbook
) -> None:
    versions = _versions(client, settings)
    if settings.api_version in versions or not versions:
        checks.ok("API version", f"the org serves API version {settings.api_version}")
    else:
        newest = versions[-1]
        checks.fail(
            "API version",
            f"the org does not serve API version {settings.api_version} "
            f"(it serves {versions[0]} to {newest})",
            f'set api_version = "{newest}"',
        )
        checks.skip("the rest", "skipped until the API version is one the org serves")
        return
    try:
        limits = client.call("limits", restful("limits/"))
    except AuthError as exc:
        checks.fail("login", exc.message, _login_fix(settings))
        checks.skip("the rest", "skipped until the login works")
        return
    except UnreachableError as exc:
        checks.fail("reachable", exc.message, exc.fix)
        checks.skip("the rest", "skipped until Salesforce can be reached")
        return
    except ServeFirstError as exc:
        checks.fail("login", str(exc), "check the connection settings and the org's status")
        checks.skip("the rest", "skipped until Salesforce answers")
        return
    checks.ok("login", f"Salesforce accepted the {settings.auth.method} login")
    _token(checks, settings)
    describes = _objects(checks, client)
    _fields(checks, client, settings, describes)
    _stages(checks, client, settings, playbook)
    _budget(checks, client, settings, limits)
    checks.append(clock_check(client.meter.first_date, "Salesforce"))


def _versions(client: SalesforceClient, settings: SalesforceConnection) -> list[str]:
    """API versions the org serves (``GET /services/data/`` needs no login)."""
    url = f"{settings.instance_url.rstrip('/')}/services/data/"
    try:
        response = client.session.get(url, headers={"Accept": "application/json"})
        body = response.json() if response.ok else []
    except (requests.RequestException, ValueError):
        return []
    found = [str(v.get("version")) for v in body if isinstance(v, dict) and v.get("version")]
    return sorted(found, key=lambda v: tuple(int(p) for p in v.split(".")))


def _login_fix(settings: SalesforceConnection) -> str:
    if settings.auth.method == "jwt":
        return (
            "check client_id (the connected app's consumer key), the username, that the "
            "certificate uploaded to the app matches private_key, and that the integration "
            "user's profile or permission set is pre-authorised for the app"
        )
    if settings.auth.method == "client_credentials":
        return "check client_id, client_secret and the app's run-as user"
    return "issue a new access token, or use auth.method = 'jwt' so servefirst renews it"


def _token(checks: Checklist, settings: SalesforceConnection) -> None:
    if settings.auth.method == "token":
        checks.warn(
            "token lifetime",
            "a pre-issued access token stops working when its session times out (2 hours "
            "by default) and servefirst cannot renew it",
            "use the JWT bearer flow (auth.method = 'jwt') for a scheduled sync",
        )
    else:
        checks.ok(
            "token lifetime",
            f"logged in with {settings.auth.method}; servefirst requests a new token whenever "
            "one expires",
        )


def _objects(checks: Checklist, client: SalesforceClient) -> dict[str, dict[str, Any]]:
    """Describe each object servefirst touches; report what the integration user cannot do."""
    describes: dict[str, dict[str, Any]] = {}
    for obj in dict.fromkeys(o for o, _, _ in OBJECT_ACCESS):
        try:
            describes[obj] = client.call(f"describe {obj}", restful(f"sobjects/{obj}/describe"))
        except ServeFirstError as exc:
            checks.fail("object access", f"cannot describe {obj} ({exc.message})")
    missing = [
        (obj, flag, purpose)
        for obj, flag, purpose in OBJECT_ACCESS
        if obj in describes and not describes[obj].get(flag)
    ]
    for obj, flag, purpose in missing:
        verb = {"queryable": "Read", "updateable": "Edit", "createable": "Create"}[flag]
        checks.fail(
            "object access",
            f"the integration user cannot {purpose}",
            f"give its profile or permission set {verb} on {obj} "
            "(Setup > Permission Sets > Object Settings)",
        )
    if not missing and len(describes) == len({o for o, _, _ in OBJECT_ACCESS}):
        checks.ok("object access", "the integration user can read and write what it needs")
    return describes


def _fields(
    checks: Checklist,
    client: SalesforceClient,
    settings: SalesforceConnection,
    describes: dict[str, dict[str, Any]],
) -> None:
    """Every provisioned field exists, is visible to the integration user and editable."""
    specs = field_specs(settings.fields)
    tables = sorted({t for s in specs for t in s.tables})
    names = sorted({s.developer_name for s in specs})
    page = client.call(
        "tooling query",
        tooling(
            "GET",
            "query/",
            params={
                "q": format_soql(
                    "SELECT DeveloperName, TableEnumOrId FROM CustomField "
                    "WHERE TableEnumOrId IN {} AND DeveloperName IN {}",
                    tables,
                    names,
                )
            },
        ),
    )
    existing = {str(r["DeveloperName"]).lower() for r in page.get("records") or []}
    permission_set = settings.permission_set
    problems = 0
    for spec in specs:
        for field in spec.permission_fields():
            obj, api_name = field.split(".", 1)
            visible = {
                str(f.get("name", "")).lower(): f for f in describes.get(obj, {}).get("fields", [])
            }
            entry = visible.get(api_name.lower())
            if spec.developer_name.lower() not in existing:
                problems += 1
                checks.fail(
                    "fields",
                    f"{field} does not exist",
                    "run `servefirst provision` (or point [connections.<name>.fields] at "
                    "the field your org uses)",
                )
            elif entry is None:
                problems += 1
                checks.fail(
                    "fields",
                    f"{field} exists but the integration user cannot see it (no field-level "
                    "security grant)",
                    f"grant Read and Edit on it in permission set {permission_set} and assign "
                    "the set to the integration user (`servefirst provision` does both)",
                )
            elif spec.integration_edit and not entry.get("updateable"):
                problems += 1
                checks.fail(
                    "fields",
                    f"{field} is visible but read-only for the integration user",
                    f"grant Edit on it in permission set {permission_set}",
                )
    if not problems:
        checks.ok("fields", f"all {len(specs)} provisioned fields exist with the access they need")


def _stages(
    checks: Checklist, client: SalesforceClient, settings: SalesforceConnection, playbook: Playbook
) -> None:
    rows = client.call("query", lambda sf: sf.query(STAGES_SOQL))
    active = active_stage_names(rows.get("records") or [])
    mapping = SalesforceMapping.build(settings, playbook)
    checks.extend(
        stage_checks(
            crm_stages=active,
            mapped=mapping.stages,
            explicit=settings.stage_map,
            unmapped=settings.unmapped_stages,
            where="the org",
        )
    )


def _budget(
    checks: Checklist, client: SalesforceClient, settings: SalesforceConnection, limits: Any
) -> None:
    daily = (limits or {}).get("DailyApiRequests") or {}
    if "Max" not in daily or "Remaining" not in daily:
        checks.skip("API budget", "Salesforce did not report the daily API limit")
        return
    count = client.call("count", lambda sf: sf.query("SELECT COUNT() FROM Opportunity"))
    engagements = int(count.get("totalSize") or 0)
    calls = 2 * math.ceil(engagements / QUERY_PAGE) + 2 * math.ceil(engagements / WRITE_BATCH)
    checks.append(
        budget_check(
            daily_max=int(daily["Max"]),
            remaining=int(daily["Remaining"]),
            share=settings.api_budget_share,
            engagements=engagements,
            full_sync_calls=max(calls, 1),
        )
    )


__all__ = ["Status", "diagnose"]
