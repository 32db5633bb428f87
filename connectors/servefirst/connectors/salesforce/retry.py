"""What Salesforce's failures mean for a run; the shared ``connectors.retry`` policy retries.

Salesforce signals every limit with 403 (never 429), so the error code and message decide:
``REQUEST_LIMIT_EXCEEDED`` "TotalRequests" means the org's daily budget is spent (stop now,
retrying only burns what is left of it), while the concurrent-request variants (refused
before anything was done) and 5xx answers clear up within seconds. Network failures are
classified by ``connectors.network``. simple-salesforce retries nothing itself.
"""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from servefirst.connectors.network import failure
from servefirst.connectors.retry import RetryPolicy
from servefirst.playbook.errors import (
    AuthError,
    BudgetExhaustedError,
    RetryableError,
    ServeFirstError,
)

__all__ = ["TRANSIENT_NETWORK", "RetryPolicy", "describe", "error_items", "translate"]

#: Network failures of requests: ``connectors.network`` tells the final ones (certificate, DNS,
#: refused) from those worth another try (resets, truncated bodies, timeouts).
TRANSIENT_NETWORK = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
)


def error_items(exc: SalesforceError) -> list[tuple[str, str]]:
    """``(errorCode, message)`` pairs of a Salesforce error body, whatever its shape."""
    content: Any = exc.content
    items = content if isinstance(content, list) else [content]
    pairs = []
    for item in items:
        if isinstance(item, dict):
            code = str(item.get("errorCode") or item.get("statusCode") or item.get("error") or "")
            message = str(item.get("message") or item.get("error_description") or "")
            pairs.append((code, message))
        elif item:
            text = item.decode(errors="replace") if isinstance(item, bytes) else str(item)
            pairs.append(("", text[:500]))
    return pairs


def describe(exc: SalesforceError) -> str:
    """A Salesforce error as its own words: ``CODE: message; CODE: message``."""
    pairs = error_items(exc)
    text = "; ".join(f"{code}: {message}" if code else message for code, message in pairs)
    return text or f"HTTP {exc.status}"


def translate(
    exc: BaseException, what: str, connection: str | None, url: str = ""
) -> ServeFirstError | None:
    """The run-level meaning of a failure, or ``None`` when the caller must decide.

    ``url`` is where the request went when the exception does not say (network failures).
    """
    if isinstance(exc, TRANSIENT_NETWORK):
        request = getattr(exc, "request", None)
        target = str(getattr(request, "url", None) or url)
        return failure(exc, target, f"Salesforce {what}", connection)
    if isinstance(exc, SalesforceRefusedRequest):
        pairs = error_items(exc)
        if any(code == "REQUEST_LIMIT_EXCEEDED" for code, _ in pairs):
            text = describe(exc)
            if "TotalRequests" in text:
                return BudgetExhaustedError(
                    "the org's daily API request limit is spent; the run stops and resumes "
                    "from its checkpoint when Salesforce allows requests again",
                    connection=connection,
                    response=text,
                )
            return RetryableError(
                f"Salesforce refused {what} for now (concurrent request limit)",
                applied=False,
                connection=connection,
                response=text,
            )
        return AuthError(
            f"Salesforce refused {what}: check the integration user's permissions and the "
            "permission set servefirst provisions",
            connection=connection,
            response=describe(exc),
        )
    if isinstance(exc, SalesforceGeneralError) and exc.status >= 500:
        return RetryableError(
            f"Salesforce answered HTTP {exc.status} to {what}",
            connection=connection,
            response=describe(exc),
        )
    return None
