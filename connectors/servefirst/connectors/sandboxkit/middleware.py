"""ASGI middleware that counts requests, injects faults and serves the ``/__sandbox__/`` API.

The admin API lives under a prefix no CRM uses, so the real client libraries can never hit it
by accident, and its own requests are neither counted nor faulted.

Admin API (JSON):
    GET    /__sandbox__/               this list, and the CRM's own admin endpoints
    GET    /__sandbox__/stats          {"total": n, "by_endpoint": {"GET query": n, ...},
                                        "faults_fired": n}
    POST   /__sandbox__/stats/reset    zero the counters
    POST   /__sandbox__/faults         {"kind": "status|limit|reset|latency", "count": 1,
                                        "status": 503, "latency_ms": 0, "policy": "",
                                        "path_prefix": ""}
    POST   /__sandbox__/faults/random  {"rate": 0.1, "seed": 7, "faults": [{...}, ...]}
    DELETE /__sandbox__/faults         clear scripted and random faults
    POST   /__sandbox__/gate           {"after": 1, "path_prefix": "", "timeout_seconds": 10}:
                                       hold that request until released (see ``gate``)
    GET    /__sandbox__/gate           {"holding": bool, "armed": bool, "seen": n}
    DELETE /__sandbox__/gate           release a held request and disarm
    GET    /__sandbox__/clock          {"offset_seconds": 0.0, "now": "<ISO time>"}
    POST   /__sandbox__/clock          {"offset_seconds": -600}: run the CRM's clock this far
                                        from this machine's (Date header, every stamp it writes)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from servefirst.connectors.sandboxkit import clock as sandbox_clock
from servefirst.connectors.sandboxkit.counters import RequestCounter
from servefirst.connectors.sandboxkit.faults import Fault, FaultInjector, FaultKind
from servefirst.connectors.sandboxkit.gate import RequestGate

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
#: The admin endpoints every sandbox answers, as ``GET /__sandbox__/`` lists them.
COMMON_ADMIN: tuple[str, ...] = (
    "GET /__sandbox__/ - this list",
    "GET /__sandbox__/stats - requests served, by endpoint",
    "POST /__sandbox__/stats/reset - zero the counters",
    'POST /__sandbox__/faults - {"kind": "status|limit|reset|latency", "count", "status", '
    '"latency_ms", "policy", "path_prefix"}: fault the next matching requests',
    'POST /__sandbox__/faults/random - {"rate", "seed", "faults": [...]}: random faults',
    "DELETE /__sandbox__/faults - clear every fault",
    'POST /__sandbox__/gate - {"after", "path_prefix", "timeout_seconds"}: hold that request',
    "GET /__sandbox__/gate - whether a request is held now",
    "DELETE /__sandbox__/gate - release a held request and disarm",
    "GET /__sandbox__/clock - the CRM clock's offset from this machine's, and its time",
    'POST /__sandbox__/clock - {"offset_seconds"}: run the CRM clock ahead (or behind if negative)',
)


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
        extra_admin: Callable[[str, str, dict[str, Any]], Any] | None = None,
        extra_index: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.classify = classify
        self.respond = respond
        self.extra_admin = extra_admin
        self.index = COMMON_ADMIN + extra_index
        self.faults = FaultInjector()
        self.counter = RequestCounter()
        self.gate = RequestGate()
        self.clock = sandbox_clock.SandboxClock()

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
        fault = self.faults.take(path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind is FaultKind.LATENCY:
            await asyncio.sleep(fault.latency_ms / 1000)
            await self.app(scope, receive, send)
            return
        if fault.kind is FaultKind.RESET:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"partial":', "more_body": True})
            raise _ConnectionResetError("injected connection reset")
        status, headers, body = self.respond(fault)
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
        sub = path[len(ADMIN_PREFIX) :].rstrip("/")
        if (method, sub) == ("GET", ""):
            return {"endpoints": list(self.index)}
        if (method, sub) == ("GET", "/stats"):
            counts = self.counter.snapshot()
            return {
                "total": sum(counts.values()),
                "by_endpoint": counts,
                "faults_fired": self.faults.fired,
            }
        if (method, sub) == ("POST", "/stats/reset"):
            self.counter.reset()
            return {"ok": True}
        if (method, sub) == ("POST", "/faults"):
            self.faults.inject(_fault(payload), int(payload.get("count", 1)))
            return {"ok": True}
        if (method, sub) == ("POST", "/faults/random"):
            kinds = tuple(_fault(f) for f in payload["faults"])
            self.faults.set_random(float(payload["rate"]), int(payload.get("seed", 0)), kinds)
            return {"ok": True}
        if (method, sub) == ("DELETE", "/faults"):
            self.faults.clear()
            return {"ok": True}
        if sub == "/gate":
            return self._gate(method, payload)
        if (method, sub) == ("GET", "/clock"):
            return self._clock_state()
        if (method, sub) == ("POST", "/clock"):
            self.clock.set_offset(float(payload["offset_seconds"]))
            return self._clock_state()
        if self.extra_admin is not None:
            return self.extra_admin(method, sub, payload)
        return None

    def _gate(self, method: str, payload: dict[str, Any]) -> Any:
        if method == "POST":
            self.gate.arm(
                int(payload.get("after", 1)),
                str(payload.get("path_prefix", "")),
                float(payload.get("timeout_seconds", 10.0)),
            )
        elif method == "DELETE":
            self.gate.release()
        elif method != "GET":
            return None
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
