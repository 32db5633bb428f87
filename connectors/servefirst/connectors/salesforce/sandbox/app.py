"""Assemble the sandbox: the Starlette app, the sandboxkit middleware, TLS serving, files.

``start_sandbox`` is the one entry point the CLI, the demo, tests and benchmarks use.
"""

from __future__ import annotations

import re
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
    routes_identity,
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
from servefirst.connectors.salesforce.sandbox.org import DEFAULT_BULK_JOB_SECONDS, Org, OrgOptions
from servefirst.connectors.salesforce.sandbox.persist import SqlitePersistence
from servefirst.connectors.salesforce.sandbox.seed import Seeder
from servefirst.connectors.salesforce.sandbox.stages import default_stage_map
from servefirst.connectors.sandboxkit import (
    AdminRegistry,
    RunningSandbox,
    SandboxMiddleware,
    SandboxServer,
)
from servefirst.connectors.sandboxkit.files import check_seed
from servefirst.connectors.sandboxkit.middleware import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"/{2,}")
_RAW_SLASHES = re.compile(rb"/{2,}")


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

    def register(self, admin: AdminRegistry) -> None:
        """The Salesforce-specific ``/__sandbox__/`` endpoints (``docs/sandbox-admin.md``)."""
        org = self.org
        admin.add(
            "POST",
            "/seed",
            "Seed in-process: the demo org, or `n` benchmark engagements.",
            lambda p: self.seed(str(p.get("kind", "demo")), int(p.get("n", 0))),
            body='{"kind": "demo|bench", "n": 0}',
        )
        admin.add("GET", "/limits", "The daily API request budget.", lambda _p: self._limits())
        admin.add(
            "POST",
            "/limits",
            "Change the daily API budget, or pretend `used` requests were made.",
            self._set_limits,
            body='{"daily_limit": 5000000, "used": 0}',
        )
        admin.add(
            "POST",
            "/tokens/expire",
            "Expire one access token, or all of them (re-authentication tests).",
            lambda p: {"expired": org.tokens.expire(_optional_str(p.get("token")))},
            body='{"token": "..."}',
        )
        admin.add(
            "GET", "/org", "The org's instance URL, user, permission set and stages.", self._org
        )
        admin.add(
            "POST",
            "/page-cap",
            "Serve query pages of at most `max` records (null: the usual 2,000), so paging "
            "code meets pages shorter than it asked for.",
            self._page_cap,
            body='{"max": 200}',
        )
        admin.add("GET", "/bulk", "How long Bulk API 2.0 jobs take.", lambda _p: self._bulk())
        admin.add(
            "POST",
            "/bulk",
            "Set how long a Bulk API 2.0 job takes from UploadComplete to JobComplete "
            "(a third in UploadComplete, the rest InProgress); 0 completes at once.",
            self._set_bulk,
            body='{"job_seconds": 2.0}',
        )

    def _limits(self) -> dict[str, int]:
        return {"daily_limit": self.org.budget.limit, "used": self.org.budget.used}

    def _set_limits(self, payload: dict[str, Any]) -> dict[str, int]:
        limit, used = payload.get("daily_limit"), payload.get("used")
        self.org.budget.set(
            limit=None if limit is None else int(limit),
            used=None if used is None else int(used),
        )
        return self._limits()

    def _org(self, _payload: dict[str, Any]) -> dict[str, Any]:
        org = self.org
        return {
            "instance_url": org.instance_url,
            "user_id": org.user_id,
            "permission_set_id": org.permission_set_id,
            "stages": org.options.stages,
        }

    def _page_cap(self, payload: dict[str, Any]) -> dict[str, int | None]:
        cap = payload.get("max")
        self.org.queries.page_cap = None if cap is None else max(1, int(cap))
        return {"max": self.org.queries.page_cap}

    def _bulk(self) -> dict[str, float]:
        return {"job_seconds": self.org.bulk_job_seconds}

    def _set_bulk(self, payload: dict[str, Any]) -> dict[str, float]:
        seconds = float(payload["job_seconds"])
        if seconds < 0:
            raise ValueError("job_seconds must be 0 or more")
        self.org.bulk_job_seconds = seconds
        return self._bulk()


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


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


class _SingleSlashes:
    """Serves ``//services/data/...`` as ``/services/data/...``, as Salesforce's servers do.

    The Salesforce CLI stores the instance URL it is given as a URL's ``href``, with a trailing
    slash, and its jsforce appends ``/services/...`` to it, so every request it makes to a real
    org starts with two slashes; without this the CLI falls back to API v50.0 and then fails.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and "//" in path:
            scope = dict(scope, path=_SLASHES.sub("/", path))
            if isinstance(scope.get("raw_path"), bytes):
                scope["raw_path"] = _RAW_SLASHES.sub(b"/", scope["raw_path"])
        await self.app(scope, receive, send)


def build_app(state: SandboxState) -> ASGIApp:
    """The ASGI app: Salesforce's routes wrapped in counters, faults and the admin API."""
    org, after = state.org, state.after_write
    routes = [
        *oauth.routes(org),
        *routes_identity.routes(org),
        *routes_misc.routes(org, after),
        *routes_query.routes(org, after),
        *routes_changes.routes(org, after),
        *routes_sobjects.routes(org, after),
        *routes_composite.routes(org, after),
        *routes_tooling.routes(org, after),
        *routes_bulk.routes(org, after),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    admin = AdminRegistry()
    state.register(admin)
    return _SingleSlashes(
        SandboxMiddleware(
            app,
            classify=classify,
            respond=lambda fault: respond(fault, org.budget.header()),
            admin=admin,
        )
    )


def start_sandbox(
    *,
    workdir: Path,
    port: int = 0,
    seed: str = "demo",
    engagements: int = 0,
    data: Path | None = None,
    stages: str | None = None,
    daily_limit: int | None = None,
    token_ttl_seconds: int = 7200,
    bulk_job_seconds: float = DEFAULT_BULK_JOB_SECONDS,
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
        stages: "standard" (the Opportunity stages a new Salesforce org ships with) or
            "servefirst" (Discover ... Deliver). Default: what ``data`` holds, else
            "servefirst" for the demo org and "standard" for an empty one, as a fresh org is.
        daily_limit: the daily API request budget (default 5,000,000).
        token_ttl_seconds: lifetime of tokens issued by the OAuth endpoint.
        bulk_job_seconds: how long a Bulk API 2.0 job takes to reach JobComplete once its
            upload is complete, so polling code is exercised; 0 completes at once.
    """
    check_seed(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = SqlitePersistence(data) if data is not None else None
    if stages is None:
        stored = persistence.stored_stages() if persistence is not None else None
        stages = stored or ("servefirst" if seed == "demo" else "standard")
    org = Org(OrgOptions(stages, daily_limit, token_ttl_seconds))
    org.bulk_job_seconds = bulk_job_seconds
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
        stage_map=default_stage_map(stages),
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
