"""The request plumbing every REST handler shares.

``api_route`` turns a plain function ``(call) -> (status, body)`` into Starlette routes (with
and without the trailing slash, since simple-salesforce's calls differ) that check the API
version and the bearer token, charge the daily budget, run the handler under the store lock,
render ``SfError`` as Salesforce's error list, add ``Sforce-Limit-Info`` and persist writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.errors import (
    MultipleMatchesError,
    SfError,
    bad_request,
    invalid_session,
)
from servefirst.connectors.salesforce.sandbox.org import Org

_VERSION = re.compile(r"^v(\d{2,3}\.\d)$")
DATA_PREFIX = "/services/data/{version}"
#: Called after each successful write request (persistence); set by the app.
AfterWrite = Callable[[], None]


@dataclass
class Call:
    """One authenticated API request, as handlers see it."""

    org: Org
    request: Request
    version: str
    user_id: str
    body: Any
    params: dict[str, str]
    raw: bytes = b""

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)


Handler = Callable[[Call], tuple[int, Any]]


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True)
class CsvBody:
    """A CSV reply (Bulk API 2.0 results), with its own extra headers."""

    text: str
    headers: dict[str, str]


def respond(status: int, payload: Any, headers: dict[str, str]) -> Response:
    if isinstance(payload, CsvBody):
        return Response(payload.text, status, {**headers, **payload.headers}, media_type="text/csv")
    if status == 204 or payload is None:
        return Response(status_code=status, headers=headers)
    return Response(json_bytes(payload), status, headers, media_type="application/json")


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request(
            "JSON_PARSER_ERROR",
            f"Unexpected character ({exc.msg}) at [line:{exc.lineno}, column:{exc.colno}]",
        ) from None
    except UnicodeDecodeError:
        raise bad_request("JSON_PARSER_ERROR", "Invalid UTF-8 in the request body") from None


def api_route(
    org: Org, path: str, methods: list[str], handler: Handler, after_write: AfterWrite
) -> list[Route]:
    """Routes for ``DATA_PREFIX + path`` (and its trailing-slash twin)."""

    async def endpoint(request: Request) -> Response:
        headers = {"Sforce-Limit-Info": org.budget.header()}
        try:
            version, user_id = _authenticate(org, request)
            headers["Sforce-Limit-Info"] = org.budget.header()
            raw = await request.body() if request.method in ("POST", "PATCH", "PUT") else b""
            is_csv = request.headers.get("content-type", "").startswith("text/csv")
            body = None if is_csv else _parse_json(raw)
            params = {k: v for k, v in request.path_params.items() if k != "version"}
            call = Call(org, request, version, user_id, body, params, raw)
            with org.store.lock:
                status, payload = handler(call)
                if request.method != "GET":
                    after_write()
        except MultipleMatchesError as exc:
            return respond(300, exc.urls(_version_of(request)), headers)
        except SfError as exc:
            return respond(exc.status, exc.body(), headers)
        return respond(status, payload, headers)

    full = DATA_PREFIX + path
    routes = [Route(full, endpoint, methods=methods)]
    if not full.endswith("/"):
        routes.append(Route(full + "/", endpoint, methods=methods))
    return routes


def _authenticate(org: Org, request: Request) -> tuple[str, str]:
    """The API version and the token's user; charges the daily budget."""
    match = _VERSION.match(request.path_params.get("version", ""))
    if match is None:
        raise SfError(404, "NOT_FOUND", "The requested resource does not exist")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    user_id = org.tokens.user(value.strip()) if scheme.lower() in ("bearer", "oauth") else None
    if user_id is None:
        raise invalid_session()
    org.budget.charge()
    return match.group(1), user_id


def _version_of(request: Request) -> str:
    match = _VERSION.match(request.path_params.get("version", ""))
    return match.group(1) if match else "59.0"


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body
