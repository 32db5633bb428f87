"""HubSpot's error bodies, raised as one exception type and rendered in one place.

Every handler raises :class:`ApiError`; the dispatcher turns it into HubSpot's JSON shape
(``status``, ``message``, ``correlationId``, ``category``, ``errors``, ``context``, ``links``)
so no route can answer an error in a shape the real API never uses. Rate-limit bodies differ
(``errorType``/``policyName`` and no ``category``) and have their own builder.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

DOCS = "https://developers.hubspot.com/docs/api/crm"


class ApiError(Exception):
    """One HubSpot API error answer."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors or []
        self.context = context or {}
        self.sub_category = sub_category
        self.links = links or {}

    def body(self) -> dict[str, Any]:
        """The JSON body HubSpot sends with this error."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        body["errors"] = self.errors
        body["context"] = self.context
        body["links"] = self.links
        return body

    def standard_error(self) -> dict[str, Any]:
        """This error as one entry of a 207 batch response's ``errors`` (StandardError)."""
        entry: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context,
            "links": self.links,
            "errors": self.errors,
        }
        if self.sub_category:
            entry["subCategory"] = self.sub_category
        return entry


def not_found(object_name: str, object_id: str) -> ApiError:
    return ApiError(
        404,
        "OBJECT_NOT_FOUND",
        f"Object not found.  objectId are usually numeric. ({object_name} {object_id})",
        context={"id": [object_id]},
    )


def validation(message: str, **context: list[str]) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, context=dict(context))


def property_errors(problems: list[dict[str, Any]]) -> ApiError:
    """HubSpot's 400 for invalid property values: the problems are JSON inside the message."""
    detail = [
        {
            "isValid": False,
            "message": p["message"],
            "error": p["error"],
            "name": p["name"],
            "localizedErrorMessage": p["message"],
        }
        for p in problems
    ]
    return ApiError(
        400,
        "VALIDATION_ERROR",
        "Property values were not valid: " + json.dumps(detail, separators=(",", ":")),
        errors=[
            {
                "message": p["message"],
                "code": p["error"],
                "context": {"propertyName": [p["name"]]},
            }
            for p in problems
        ],
    )


def conflict(message: str, category: str = "OBJECT_ALREADY_EXISTS") -> ApiError:
    return ApiError(409, category, message)


#: Fault/limit policy names (as the admin API and the limiter spell them) -> HubSpot's policyName.
POLICIES = {
    "ten_secondly": "TEN_SECONDLY_ROLLING",
    "ten_secondly_rolling": "TEN_SECONDLY_ROLLING",
    "daily": "DAILY",
    "secondly": "SECONDLY",
}


def rate_limit_body(policy: str) -> dict[str, Any]:
    """HubSpot's 429 body: ``errorType`` and ``policyName`` instead of ``category``."""
    policy_name = POLICIES.get(policy.lower(), "TEN_SECONDLY_ROLLING")
    return {
        "status": "error",
        "message": f"You have reached your {policy_name.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy_name,
        "groupName": "api",
    }
