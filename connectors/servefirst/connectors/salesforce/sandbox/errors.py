"""Salesforce's error shapes, raised anywhere in the sandbox and rendered by the routes.

Top-level REST errors are a list ``[{"message", "errorCode", "fields"?}]``; inside composite
collection results the same error uses the key ``statusCode`` instead of ``errorCode``.
"""

from __future__ import annotations

from typing import Any


class SfError(Exception):
    """One Salesforce API error: HTTP status, error code, message and the fields concerned."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The top-level REST error body."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def collection_error(self) -> dict[str, Any]:
        """The error as it appears inside a composite collection's per-record result."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}


class MultipleMatchesError(SfError):
    """HTTP 300: an external id matched several records; the body lists their URLs."""

    def __init__(self, object_name: str, ids: list[str]) -> None:
        super().__init__(300, "MULTIPLE_CHOICES", f"{len(ids)} records match")
        self.object_name = object_name
        self.ids = ids

    def urls(self, version: str) -> list[str]:
        return [f"/services/data/v{version}/sobjects/{self.object_name}/{i}" for i in self.ids]


def bad_request(code: str, message: str, fields: list[str] | None = None) -> SfError:
    return SfError(400, code, message, fields)


def not_found(message: str = "The requested resource does not exist") -> SfError:
    return SfError(404, "NOT_FOUND", message)


def invalid_session() -> SfError:
    return SfError(401, "INVALID_SESSION_ID", "Session expired or invalid")
