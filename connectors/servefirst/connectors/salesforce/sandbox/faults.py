"""How the sandbox names endpoints for the request counters, and Salesforce's fault replies."""

from __future__ import annotations

import json
import re

from servefirst.connectors.sandboxkit import Fault, FaultKind

_DATA = re.compile(r"^/services/data/v\d{2,3}\.\d/?(.*)$")
_STATUS_BODIES = {
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you "
        "contact support: 0000000000-00000 (-0000000000)",
    ),
    502: ("SERVER_UNAVAILABLE", "Bad gateway"),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later."),
    504: ("SERVER_UNAVAILABLE", "Gateway timeout"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    404: ("NOT_FOUND", "The requested resource does not exist"),
}
_LIMIT_MESSAGES = {
    "daily": "TotalRequests Limit exceeded.",
    "concurrent": "ConcurrentPerOrgLongTxn Limit exceeded.",
}


def classify(_method: str, path: str) -> str:
    """The endpoint name the counters use, e.g. "query", "sobjects/Opportunity", "oauth2/token"."""
    if path.startswith("/services/oauth2/"):
        return "oauth2/" + path.removeprefix("/services/oauth2/").strip("/")
    match = _DATA.match(path)
    if match is None:
        return "versions" if path.rstrip("/") == "/services/data" else path
    parts = [p for p in match.group(1).split("/") if p]
    if not parts:
        return "resources"
    head = parts[0]
    if head == "sobjects" and len(parts) > 1:
        if len(parts) > 2 and parts[2] == "describe":
            return f"sobjects/{parts[1]}/describe"
        return f"sobjects/{parts[1]}"
    if head == "jobs" and len(parts) > 1:
        return f"jobs/{parts[1]}"
    if head == "composite" and parts[1:2] == ["sobjects"]:
        return "composite/sobjects"
    if head == "tooling" and len(parts) > 1:
        if parts[1] == "sobjects" and len(parts) > 2:
            return f"tooling/sobjects/{parts[2]}"
        return f"tooling/{parts[1]}"
    return head


def respond(fault: Fault, limit_info: str = "") -> tuple[int, dict[str, str], bytes]:
    """Salesforce's reply to an injected STATUS or LIMIT fault (with Sforce-Limit-Info if given)."""
    if fault.kind is FaultKind.LIMIT:
        message = _LIMIT_MESSAGES.get(fault.policy or "daily", _LIMIT_MESSAGES["daily"])
        status, code = 403, "REQUEST_LIMIT_EXCEEDED"
    else:
        status = fault.status
        code, message = _STATUS_BODIES.get(status, ("UNKNOWN_EXCEPTION", f"HTTP {status}"))
    body = json.dumps([{"message": message, "errorCode": code}]).encode()
    headers = {"content-type": "application/json"}
    if limit_info:
        headers["Sforce-Limit-Info"] = limit_info
    return status, headers, body
