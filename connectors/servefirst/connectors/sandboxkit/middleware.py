"""ASGI middleware that counts requests, injects faults and serves the ``/__sandbox__/`` API.

The admin API lives under a prefix no CRM uses, so the real client libraries can never hit it
by accident, and its own requests are neither counted nor faulted. Its endpoints live in an
:class:`AdminRegistry`: the shared ones below are registered here, each CRM sandbox registers
its own, and ``GET /__sandbox__/`` lists them all (``docs/sandbox-admin.md`` explains them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any

from servefirst.connectors.sandboxkit import clock as sandbox_clock
from servefirst.connectors.sandboxkit.counters import RequestCounter
from servefirst.connectors.sandboxkit.faults import Fault, FaultInjector, FaultKind
from servefirst.connectors.sandboxkit.gate import RequestGate
from servefirst.connectors.sandboxkit.registry import AdminRegistry

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Builds the CRM's own reply to an injected STATUS or LIMIT fault: (status, headers, body).
FaultResponder = Callable[[Fault], tuple[int, dict[str, str], bytes]]
#: Names the endpoint of a request for the counters, e.g. ("GET", "/services/data/v59.0/query").
EndpointClassifier = Callable[[str, str], str]

ADMIN_PREFIX = "/__sandbox__"


#: The CRM's own reply to a fault that was applied first is the reply to the plain fault.
_REPLIED = {FaultKind.APPLIED_STATUS: FaultKind.STATUS}


async def _discard(_message: Message) -> None:
    """Swallow a reply: the request was carried out, the client never hears of it."""


class _ConnectionResetError(Exception):
    """Raised after a truncated body so the server drops the connection mid-response."""


class SandboxMiddleware:
    """Wraps a CRM sandbox app with counters, faults and the admin API."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        classify: EndpointClassifier,
        respond: FaultResponder,
        admin: AdminRegistry | None = None,
    ) -> None:
        self.app = app
        self.classify = classify
        self.respond = respond
        self.faults = FaultInjector()
        self.counter = RequestCounter()
        self.gate = RequestGate()
        self.clock = sandbox_clock.SandboxClock()
        self.admin = admin or AdminRegistry()
        self._register_shared()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = sandbox_clock.serving(self.clock)
        try:
            await self._serve(scope, receive, _dated(send, self.clock))
        finally:
            sandbox_clock.restore(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(ADMIN_PREFIX):
            await self._admin(scope, receive, send)
            return
        self.counter.add(method, self.classify(method, path))
        await self.gate.passage(path)
        fault = self.faults.take(path, method)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.latency_ms / 1000)
            await self.app(scope, receive, send)
            return
        if fault.kind in (FaultKind.APPLIED_RESET, FaultKind.APPLIED_STATUS):
            # The CRM carries the request out; only its reply is lost or replaced.
            await self.app(scope, receive, _discard)
        if fault.kind in (FaultKind.RESET, FaultKind.APPLIED_RESET):
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
            raise _ConnectionResetError("injected connection reset")
        replied = replace(fault, kind=_REPLIED.get(fault.kind, fault.kind))
        status, headers, body = self.respond(replied)
        await _send_bytes(send, status, headers, body)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        try:
            payload: dict[str, Any] = json.loads(body) if body else {}
            result = self.handle_admin(scope["method"], scope["path"], payload)
        except (ValueError, KeyError, TypeError) as exc:
            await _send_json(send, 400, {"error": str(exc)})
            return
        if result is None:
            await _send_json(send, 404, {"error": f"no admin endpoint {scope['path']}"})
            return
        await _send_json(send, 200, result)

    def handle_admin(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        """Answers one admin call; ``None`` means no such endpoint."""
        endpoint = self.admin.find(method, path[len(ADMIN_PREFIX) :])
        return None if endpoint is None else endpoint.handler(payload)

    def _register_shared(self) -> None:
        """The endpoints every sandbox has: the listing, counters and faults."""
        add = self.admin.add
        add("GET", "/", "This list of admin endpoints.", self._listing)
        add("GET", "/stats", "Requests counted per endpoint since start or reset.", self._stats)
        add("POST", "/stats/reset", "Zero the request counters.", self._reset_stats)
        add(
            "POST",
            "/faults",
            "The next `count` matching requests (under `path_prefix`, with `method` if given) "
            "suffer a fault: an error status with the CRM's error body, the CRM's limit reply, "
            "a connection reset mid-response, or latency. `applied_reset` and `applied_status` "
            "first carry the request out (a create lands), then break the connection or answer "
            "the error status: a write whose reply was lost.",
            self._inject,
            body='{"kind": "status|limit|reset|latency|applied_reset|applied_status", '
            '"count": 1, "status": 503, "latency_ms": 0, "policy": "", "path_prefix": "", '
            '"method": ""}',
        )
        add(
            "POST",
            "/faults/random",
            "Each request suffers one of `faults` with probability `rate` (seeded).",
            self._random,
            body='{"rate": 0.1, "seed": 7, "faults": [{"kind": ...}, ...]}',
        )
        add("DELETE", "/faults", "Clear scripted and random faults.", self._clear)
        add(
            "POST",
            "/gate",
            "Hold the `after`-th request under `path_prefix` until released (or the timeout), "
            "to test what happens while a run is in flight.",
            self._arm_gate,
            body='{"after": 1, "path_prefix": "", "timeout_seconds": 10}',
        )
        add("GET", "/gate", "Whether a request is held now.", lambda _p: self.gate.status())
        add("DELETE", "/gate", "Release a held request and disarm.", self._release_gate)
        add(
            "GET",
            "/clock",
            "The sandbox's clock: its offset from this machine's and its time now.",
            lambda _p: self._clock_state(),
        )
        add(
            "POST",
            "/clock",
            "Run the CRM's clock this far from this machine's (the Date header and every "
            "stamp it writes).",
            self._set_clock,
            body='{"offset_seconds": -600}',
        )

    def _listing(self, _payload: dict[str, Any]) -> Any:
        return {"endpoints": self.admin.describe(ADMIN_PREFIX)}

    def _stats(self, _payload: dict[str, Any]) -> Any:
        counts = self.counter.snapshot()
        return {
            "total": sum(counts.values()),
            "by_endpoint": counts,
            "faults_fired": self.faults.fired,
        }

    def _reset_stats(self, _payload: dict[str, Any]) -> Any:
        self.counter.reset()
        return {"ok": True}

    def _inject(self, payload: dict[str, Any]) -> Any:
        self.faults.inject(_fault(payload), int(payload.get("count", 1)))
        return {"ok": True}

    def _random(self, payload: dict[str, Any]) -> Any:
        kinds = tuple(_fault(f) for f in payload["faults"])
        self.faults.set_random(float(payload["rate"]), int(payload.get("seed", 0)), kinds)
        return {"ok": True}

    def _clear(self, _payload: dict[str, Any]) -> Any:
        self.faults.clear()
        return {"ok": True}

    def _set_clock(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.clock.set_offset(float(payload["offset_seconds"]))
        return self._clock_state()

    def _arm_gate(self, payload: dict[str, Any]) -> Any:
        self.gate.arm(
            int(payload.get("after", 1)),
            str(payload.get("path_prefix", "")),
            float(payload.get("timeout_seconds", 10.0)),
        )
        return self.gate.status()

    def _release_gate(self, _payload: dict[str, Any]) -> Any:
        self.gate.release()
        return self.gate.status()

    def _clock_state(self) -> dict[str, Any]:
        return {
            "offset_seconds": self.clock.offset.total_seconds(),
            "now": self.clock.now().isoformat(),
        }


def _dated(send: Send, clock: sandbox_clock.SandboxClock) -> Send:
    """``send`` that stamps each response with the sandbox's own ``Date`` header."""

    async def dated(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
            headers.append((b"date", clock.http_date().encode()))
            message = {**message, "headers": headers}
        await send(message)

    return dated


def _fault(payload: dict[str, Any]) -> Fault:
    return Fault(
        kind=FaultKind(payload["kind"]),
        status=int(payload.get("status", 503)),
        latency_ms=int(payload.get("latency_ms", 0)),
        policy=str(payload.get("policy", "")),
        path_prefix=str(payload.get("path_prefix", "")),
        method=str(payload.get("method", "")).upper(),
    )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_bytes(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, payload: Any) -> None:
    await _send_bytes(
        send, status, {"content-type": "application/json"}, json.dumps(payload).encode()
    )
