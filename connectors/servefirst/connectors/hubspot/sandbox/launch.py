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
from servefirst.connectors.sandboxkit import (
    AdminRegistry,
    RunningSandbox,
    SandboxMiddleware,
    SandboxServer,
)
from servefirst.connectors.sandboxkit.files import check_seed, toml_string
from servefirst.connectors.sandboxkit.files import write_config as shared_config

#: The portal id the sandbox's config names, so reports built on it link deals as on a real one.
SANDBOX_PORTAL_ID = 1000001
TOKEN_FILE = "hubspot-token.txt"  # noqa: S105 - a file name, not a secret
#: How far a real portal's search index trails its writes: a few seconds (HubSpot documents
#: only that new and changed records take "a few moments" to appear in search).
DEFAULT_SEARCH_LAG_SECONDS = 2.0


def write_config(
    workdir: Path,
    url: str,
    token_file: Path,
    tier: str,
    search_lag_seconds: float = 0.0,
    ca_bundle: Path | None = None,
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
    if ca_bundle is not None:
        connection.append(f"ca_bundle = {q(ca_bundle.resolve())}")
    return shared_config(workdir, header, connection)


class SandboxAdminApi:
    """The HubSpot-specific ``/__sandbox__/`` endpoints (see :func:`start_sandbox`)."""

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

    def register(self, admin: AdminRegistry) -> None:
        """The HubSpot-specific ``/__sandbox__/`` endpoints (``docs/sandbox-admin.md``)."""
        admin.add("GET", "/search-lag", "How far search trails writes.", lambda _p: self._lag())
        admin.add(
            "POST",
            "/search-lag",
            "Search shows each record as it was this many seconds ago (a new record not at "
            "all); 0 makes search consistent at once.",
            self._set_lag,
            body='{"seconds": 2.0}',
        )
        admin.add(
            "POST",
            "/page-cap",
            "Serve search pages of at most `max` records (null: what `limit` asks for), so "
            "paging code meets pages shorter than it asked for.",
            self._page_cap,
            body='{"max": 50}',
        )
        admin.add("GET", "/ratelimits", "The rate-limit tier and usage.", lambda _p: self._limits())
        admin.add(
            "POST",
            "/ratelimits",
            "Turn refusing (429) on or off, pick the tier, pretend daily usage, change search's "
            "per-second limit, or empty the rolling windows.",
            self._set_limits,
            body='{"enabled": true, "tier": "free|starter|professional|enterprise", '
            '"daily_used": 0, "search_per_second": 5, "reset_window": false}',
        )
        admin.add(
            "POST",
            "/tokens",
            "Issue a private-app token with these scopes (or an expired one).",
            self._token,
            body='{"scopes": ["crm.objects.deals.read", ...], "expired": false}',
        )
        admin.add(
            "POST",
            "/seed",
            "Seed in-process: the demo portal, or `n` benchmark deals.",
            lambda p: self.seed(str(p["kind"]), int(p.get("n", 0))),
            body='{"kind": "demo|bench", "n": 0}',
        )
        admin.add("POST", "/save", "Write the portal to its data file now.", self._save)
        admin.add("GET", "/portal", "Record counts per object type.", self._portal)

    def _lag(self) -> dict[str, float]:
        return {"search_lag_seconds": self.portal.search_lag}

    def _set_lag(self, payload: dict[str, Any]) -> dict[str, float]:
        seconds = float(payload["seconds"])
        if seconds < 0:
            raise ValueError("seconds must be 0 or more")
        with self.portal.lock:
            self.portal.search_lag = seconds
        return self._lag()

    def _page_cap(self, payload: dict[str, Any]) -> dict[str, int | None]:
        cap = payload.get("max")
        with self.portal.lock:
            self.portal.page_cap = None if cap is None else max(1, int(cap))
        return {"max": self.portal.page_cap}

    def _limits(self) -> dict[str, Any]:
        limiter = self.limiter
        return {
            "enabled": limiter.enabled,
            "tier": limiter.tier,
            "per_ten_seconds": limiter.per_window,
            "daily": limiter.daily,
            "daily_used": limiter.daily_used,
            "search_per_second": limiter.search_per_second,
        }

    def _set_limits(self, payload: dict[str, Any]) -> dict[str, Any]:
        limiter = self.limiter
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
        return self._limits()

    def _token(self, payload: dict[str, Any]) -> dict[str, Any]:
        scopes = frozenset(payload.get("scopes", sorted(ALL_SCOPES)))
        with self.portal.lock:
            token = issue_token(self.portal, scopes, bool(payload.get("expired", False)))
        return {"token": token, "scopes": sorted(scopes)}

    def _save(self, _payload: dict[str, Any]) -> dict[str, str | None]:
        self.save()
        return {"saved": str(self.data) if self.data else None}

    def _portal(self, _payload: dict[str, Any]) -> dict[str, int]:
        with self.portal.lock:
            return {name: len(t.records) for name, t in self.portal.tables.items()}


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
    rate_limits: bool = True,
    search_lag_seconds: float = DEFAULT_SEARCH_LAG_SECONDS,
    tls: bool = False,
) -> RunningSandbox:
    """Starts a HubSpot sandbox on loopback and returns its handle.

    Args:
        workdir: where the token file and ``servefirst.toml`` are written.
        port: 0 picks a free port.
        seed: ``"demo"`` (the demo portal) or ``"none"`` (an empty portal).
        engagements: also seed this many benchmark deals.
        data: a SQLite file to load the portal from and save it to (see ``persist``).
        tier: the portal tier whose rate limits apply (free, starter, professional, enterprise).
        rate_limits: refuse requests past the tier's limits with 429, as a real portal does
            (the headers are always sent); tests and demos that need neither turn it off.
        search_lag_seconds: search shows records as they were this long ago; by default the
            few seconds a real portal's search index trails its writes.
        tls: serve https with a certificate from a throwaway local CA (its PEM file becomes
            the config's ``ca_bundle``) instead of plain http.
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
    registry = AdminRegistry()
    admin.register(registry)
    app = SandboxMiddleware(
        build_app(portal, limiter),
        classify=classify,
        respond=make_responder(limiter),
        admin=registry,
    )
    server = _Stopping(app, port=port, tls_dir=workdir / "tls" if tls else None)
    server.admin_api = admin
    server.start()
    admin.save()
    config = write_config(
        workdir, server.url, token_file, tier, search_lag_seconds, server.ca_bundle
    )
    lock = threading.Lock()

    def seed_more(kind: str, n: int = 0) -> object:
        with lock:
            return admin.seed(kind, n)

    return RunningSandbox("hubspot", server, token, config, seed_more)
