"""Assemble the sandbox: the Starlette app, the sandboxkit middleware, TLS serving, files.

``start_sandbox`` is the one entry point the CLI, the demo, tests and benchmarks use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from servefirst.connectors.salesforce.sandbox import (
    oauth,
    routes_bulk,
    routes_changes,
    routes_composite,
    routes_misc,
    routes_query,
    routes_sobjects,
    routes_tooling,
)
from servefirst.connectors.salesforce.sandbox.credentials import (
    ensure_credentials,
    write_config,
    write_token,
)
from servefirst.connectors.salesforce.sandbox.faults import classify, respond
from servefirst.connectors.salesforce.sandbox.http import respond as json_reply
from servefirst.connectors.salesforce.sandbox.org import Org, OrgOptions
from servefirst.connectors.salesforce.sandbox.persist import SqlitePersistence
from servefirst.connectors.salesforce.sandbox.seed import Seeder
from servefirst.connectors.sandboxkit import RunningSandbox, SandboxMiddleware, SandboxServer
from servefirst.connectors.sandboxkit.files import check_seed


class SandboxState:
    """The org plus what serves it: persistence and the seeder, shared by routes and admin."""

    def __init__(self, org: Org, persistence: SqlitePersistence | None) -> None:
        self.org = org
        self.persistence = persistence
        self.seeder = Seeder(org)

    def after_write(self) -> None:
        if self.persistence is None:
            self.org.store.dirty.clear()
        else:
            self.persistence.flush(self.org.store, self.org.options.stages)

    def seed(self, kind: str, n: int = 0) -> dict[str, int]:
        """Seed in-process (no HTTP, no counted requests): "demo", or "bench" with ``n``."""
        with self.org.store.lock:
            if kind == "demo":
                counts = self.seeder.demo()
            elif kind == "bench":
                counts = self.seeder.bench(n)
            else:
                raise ValueError(f"unknown seed kind {kind!r}: use 'demo' or 'bench'")
            self.after_write()
        return counts

    INDEX = (
        'POST /__sandbox__/seed - {"kind": "demo|bench", "n"}: seed more records',
        "GET /__sandbox__/limits - the daily API limit and what is used",
        'POST /__sandbox__/limits - {"daily_limit", "used"}: set the daily API budget',
        'POST /__sandbox__/tokens/expire - {"token"}: expire one token (or all)',
        "GET /__sandbox__/org - instance URL, integration user, permission set, stages",
        'POST /__sandbox__/page-cap - {"max": n or null}: serve query pages of at most n',
    )

    def admin(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        """Salesforce-specific admin endpoints under ``/__sandbox__/``."""
        org = self.org
        if (method, path) == ("POST", "/seed"):
            return self.seed(str(payload.get("kind", "demo")), int(payload.get("n", 0)))
        if (method, path) == ("GET", "/limits"):
            return {"daily_limit": org.budget.limit, "used": org.budget.used}
        if (method, path) == ("POST", "/limits"):
            limit = payload.get("daily_limit")
            used = payload.get("used")
            org.budget.set(
                limit=None if limit is None else int(limit),
                used=None if used is None else int(used),
            )
            return {"daily_limit": org.budget.limit, "used": org.budget.used}
        if (method, path) == ("POST", "/page-cap"):
            cap = payload.get("max")
            org.queries.page_cap = None if cap is None else max(1, int(cap))
            return {"max": org.queries.page_cap}
        if (method, path) == ("POST", "/tokens/expire"):
            token = payload.get("token")
            return {"expired": org.tokens.expire(None if token is None else str(token))}
        if (method, path) == ("GET", "/org"):
            return {
                "instance_url": org.instance_url,
                "user_id": org.user_id,
                "permission_set_id": org.permission_set_id,
                "stages": org.options.stages,
            }
        return None


async def _not_found(_request: Request, _exc: Exception) -> Response:
    """Unknown resources answer Salesforce's error list, not Starlette's plain text."""
    body = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    return json_reply(404, body, {})


async def _not_allowed(request: Request, exc: Exception) -> Response:
    allowed = getattr(exc, "headers", None) or {}
    body = [
        {
            "errorCode": "METHOD_NOT_ALLOWED",
            "message": f"HTTP Method '{request.method}' not allowed. Allowed are "
            f"{allowed.get('Allow', '')}",
        }
    ]
    return json_reply(405, body, {})


def build_app(state: SandboxState) -> SandboxMiddleware:
    """The ASGI app: Salesforce's routes wrapped in counters, faults and the admin API."""
    org, after = state.org, state.after_write
    routes = [
        *oauth.routes(org),
        *routes_misc.routes(org, after),
        *routes_query.routes(org, after),
        *routes_changes.routes(org, after),
        *routes_sobjects.routes(org, after),
        *routes_composite.routes(org, after),
        *routes_tooling.routes(org, after),
        *routes_bulk.routes(org, after),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    return SandboxMiddleware(
        app,
        classify=classify,
        respond=lambda fault: respond(fault, org.budget.header()),
        extra_admin=state.admin,
        extra_index=SandboxState.INDEX,
    )


def start_sandbox(
    *,
    workdir: Path,
    port: int = 0,
    seed: str = "demo",
    engagements: int = 0,
    data: Path | None = None,
    stages: str = "servefirst",
    daily_limit: int | None = None,
    token_ttl_seconds: int = 7200,
) -> RunningSandbox:
    """Start a Salesforce sandbox on loopback over TLS and write what clients need to ``workdir``.

    Args:
        workdir: where the CA bundle, token, JWT key pair, client secret and
            ``servefirst.toml`` are written.
        port: TCP port; 0 picks a free one.
        seed: "demo" seeds the demo org, "none" leaves it empty (stages, integration user and
            permission set only). Ignored when ``data`` already holds an org.
        engagements: also seed this many benchmark engagements.
        data: optional SQLite file: loaded at start if it holds an org, kept current on writes.
        stages: "servefirst" or "standard" Opportunity stages.
        daily_limit: the daily API request budget (default 5,000,000).
        token_ttl_seconds: lifetime of tokens issued by the OAuth endpoint.
    """
    check_seed(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    org = Org(OrgOptions(stages, daily_limit, token_ttl_seconds))
    persistence = SqlitePersistence(data) if data is not None else None
    loaded = persistence.load(org) if persistence is not None else False
    if not loaded:
        org.bootstrap()
    credentials = ensure_credentials(workdir)
    org.jwt_certificate_pem = credentials.certificate_pem
    org.client_secret = credentials.client_secret
    state = SandboxState(org, persistence)
    server = SandboxServer(build_app(state), port=port, tls_dir=workdir)
    org.instance_url = server.url
    token = org.tokens.issue(org.user_id, lifetime=True)
    token_file = write_token(workdir, token)
    assert server.ca_bundle is not None  # noqa: S101 - tls_dir given, so TLS is on
    config = write_config(
        workdir,
        url=server.url,
        ca_bundle=server.ca_bundle,
        token_file=token_file,
        jwt_key=credentials.jwt_key,
    )
    if not loaded and seed == "demo":
        state.seed("demo")
    if engagements:
        state.seed("bench", engagements)
    state.after_write()
    server.start()
    return RunningSandbox(
        crm="salesforce", server=server, token=token, config_path=config, seed=state.seed
    )
