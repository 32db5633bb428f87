"""Starting a HubSpot sandbox: portal, seed, token, ``servefirst.toml`` and the server thread.

``start_sandbox`` is what the CLI (``servefirst sandbox serve --crm hubspot``), the demo, tests
and benchmarks call. It writes into ``workdir`` a token file (a private-app token with every
scope the sandbox knows) and a ``servefirst.toml`` whose ``[connections.hubspot]`` points at
the sandbox, so ``servefirst --config <workdir>/servefirst.toml ...`` works at once.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from servefirst.config.private import write_private
from servefirst.connectors.hubspot.sandbox.app import build_app, classify, make_responder
from servefirst.connectors.hubspot.sandbox.auth import ALL_SCOPES, issue_token
from servefirst.connectors.hubspot.sandbox.persist import load, save
from servefirst.connectors.hubspot.sandbox.ratelimit import RateLimiter
from servefirst.connectors.hubspot.sandbox.seed import seed_bench, seed_demo
from servefirst.connectors.hubspot.sandbox.store import Portal
from servefirst.connectors.sandboxkit import RunningSandbox, SandboxMiddleware, SandboxServer
from servefirst.connectors.sandboxkit.files import check_seed, toml_string
from servefirst.connectors.sandboxkit.files import write_config as shared_config

#: The portal id the sandbox's config names, so reports built on it link deals as on a real one.
SANDBOX_PORTAL_ID = 1000001
TOKEN_FILE = "hubspot-token.txt"  # noqa: S105 - a file name, not a secret


def write_config(
    workdir: Path, url: str, token_file: Path, tier: str, search_lag_seconds: float = 0.0
) -> Path:
    """A ``servefirst.toml`` for one HubSpot connection to this sandbox.

    The incremental overlap matches the sandbox's search lag (0 when it has none): the five
    minutes a real portal needs would make every back-to-back sync in a demo or benchmark
    re-read all it wrote seconds before.
    """
    overlap = math.ceil(search_lag_seconds) + (1 if search_lag_seconds else 0)
    q = toml_string
    header = ["Written by the HubSpot sandbox: connects servefirst to it at " + url]
    connection = [
        "[connections.hubspot]",
        'crm = "hubspot"',
        f"base_url = {q(url)}",
        f"token = {{ file = {q(token_file.resolve())} }}",
        f"tier = {q(tier)}",
        f"portal_id = {SANDBOX_PORTAL_ID}",
        "# this sandbox's search index lags by the configured search lag only",
        f"incremental_overlap_seconds = {overlap}",
    ]
    return shared_config(workdir, header, connection)


class SandboxAdminApi:
    """The HubSpot-specific ``/__sandbox__/`` endpoints (see :func:`start_sandbox`)."""

    INDEX = (
        'POST /__sandbox__/search-lag - {"seconds"}: search shows records as they were then',
        'POST /__sandbox__/ratelimits - {"tier", "enabled", "daily_used", "search_per_second", '
        '"reset_window"}: the portal\'s rate limits',
        'POST /__sandbox__/tokens - {"scopes": [...], "expired"}: issue a private-app token '
        "with only these scopes (or an expired one)",
        'POST /__sandbox__/seed - {"kind": "demo|bench", "n"}: seed more records',
        "POST /__sandbox__/save - write the portal to its data file",
        "GET /__sandbox__/portal - record counts by object",
        'POST /__sandbox__/page-cap - {"max": n or null}: serve search pages of at most n',
    )

    def __init__(self, portal: Portal, limiter: RateLimiter, data: Path | None) -> None:
        self.portal = portal
        self.limiter = limiter
        self.data = data

    def seed(self, kind: str, n: int = 0) -> dict[str, int]:
        if kind == "demo":
            counts = seed_demo(self.portal)
        elif kind == "bench":
            counts = seed_bench(self.portal, n)
        else:
            raise ValueError(f"unknown seed {kind!r}; use 'demo' or 'bench'")
        self.save()
        return counts

    def save(self) -> None:
        if self.data is not None:
            save(self.portal, self.data)

    def __call__(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        portal, limiter = self.portal, self.limiter
        if (method, path) == ("POST", "/search-lag"):
            with portal.lock:
                portal.search_lag = float(payload["seconds"])
            return {"search_lag_seconds": portal.search_lag}
        if (method, path) == ("POST", "/page-cap"):
            cap = payload.get("max")
            with portal.lock:
                portal.page_cap = None if cap is None else max(1, int(cap))
            return {"max": portal.page_cap}
        if (method, path) == ("POST", "/ratelimits"):
            with limiter.lock:
                if "tier" in payload:
                    limiter.set_tier(str(payload["tier"]))
                limiter.enabled = bool(payload.get("enabled", limiter.enabled))
                limiter.daily_used = int(payload.get("daily_used", limiter.daily_used))
                limiter.search_per_second = int(
                    payload.get("search_per_second", limiter.search_per_second)
                )
                if payload.get("reset_window"):
                    limiter.window.clear()
                    limiter.search_window.clear()
            return {
                "enabled": limiter.enabled,
                "tier": limiter.tier,
                "daily_used": limiter.daily_used,
            }
        if (method, path) == ("POST", "/tokens"):
            scopes = frozenset(payload.get("scopes", sorted(ALL_SCOPES)))
            with portal.lock:
                token = issue_token(portal, scopes, bool(payload.get("expired", False)))
            return {"token": token, "scopes": sorted(scopes)}
        if (method, path) == ("POST", "/seed"):
            return self.seed(str(payload["kind"]), int(payload.get("n", 0)))
        if (method, path) == ("POST", "/save"):
            self.save()
            return {"saved": str(self.data) if self.data else None}
        if (method, path) == ("GET", "/portal"):
            with portal.lock:
                return {name: len(t.records) for name, t in portal.tables.items()}
        return None


class _Stopping(SandboxServer):
    """A server that saves the portal when it stops."""

    admin_api: SandboxAdminApi

    def stop(self) -> None:
        super().stop()
        self.admin_api.save()


def start_sandbox(
    *,
    workdir: Path,
    port: int = 0,
    seed: str = "demo",
    engagements: int = 0,
    data: Path | None = None,
    tier: str = "professional",
    rate_limits: bool = False,
    search_lag_seconds: float = 0.0,
) -> RunningSandbox:
    """Starts a HubSpot sandbox on loopback over plain http and returns its handle.

    Args:
        workdir: where the token file and ``servefirst.toml`` are written.
        port: 0 picks a free port.
        seed: ``"demo"`` (the demo portal) or ``"none"`` (an empty portal).
        engagements: also seed this many benchmark deals.
        data: a SQLite file to load the portal from and save it to (see ``persist``).
        tier: the portal tier whose rate limits apply (free, starter, professional, enterprise).
        rate_limits: refuse requests past the limits with 429 (headers are always sent).
        search_lag_seconds: search shows records as they were this long ago.
    """
    check_seed(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    portal = Portal()
    limiter = RateLimiter(tier, rate_limits)
    admin = SandboxAdminApi(portal, limiter, data)
    loaded = data is not None and load(portal, data)
    if not loaded:
        if seed == "demo":
            seed_demo(portal)
        if engagements:
            seed_bench(portal, engagements)
    portal.search_lag = search_lag_seconds
    token = next((t for t, (s, e) in portal.tokens.items() if s == ALL_SCOPES and not e), None)
    token = token or issue_token(portal)
    token_file = write_private(workdir / TOKEN_FILE, f"{token}\n".encode())
    app = SandboxMiddleware(
        build_app(portal, limiter),
        classify=classify,
        respond=make_responder(limiter),
        extra_admin=admin,
        extra_index=SandboxAdminApi.INDEX,
    )
    server = _Stopping(app, port=port, tls_dir=None)
    server.admin_api = admin
    server.start()
    admin.save()
    config = write_config(workdir, server.url, token_file, tier, search_lag_seconds)
    lock = threading.Lock()

    def seed_more(kind: str, n: int = 0) -> object:
        with lock:
            return admin.seed(kind, n)

    return RunningSandbox("hubspot", server, token, config, seed_more)
