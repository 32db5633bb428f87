"""Creating Salesforce records and metadata exactly once, whatever happens to the reply.

``POST sobjects/X`` and Tooling API creates are not idempotent: after a failure that may have
carried them out (a 5xx, a reset, a read timeout) sending them again would make a duplicate,
or fail on a unique name. Each create here therefore names the SOQL that finds its record by
its natural key (a permission set's name, a grant's parent and field, a custom field's
developer name); the retry policy runs it before any new attempt and returns what it finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servefirst.connectors.salesforce.client import SalesforceClient, restful, tooling


def create_record(
    client: SalesforceClient, sobject: str, values: Mapping[str, Any], key: str
) -> str:
    """Create one ``sobject`` record; ``key`` is the SOQL finding it. Returns its id."""

    def lookup() -> dict[str, Any] | None:
        page = client.call("query", lambda sf: sf.query(key))
        rows = page.get("records") or []
        return {"id": rows[0]["Id"]} if rows else None

    answer = client.call(
        f"create {sobject}",
        restful(f"sobjects/{sobject}/", method="POST", payload=dict(values)),
        create=True,
        lookup=lookup,
    )
    return str(answer["id"])


def create_metadata(client: SalesforceClient, sobject: str, body: dict[str, Any], key: str) -> None:
    """A Tooling API create; ``key`` is the Tooling SOQL finding what it creates."""

    def lookup() -> dict[str, Any] | None:
        page = client.call("tooling query", tooling("GET", "query/", params={"q": key}))
        rows = page.get("records") or []
        return {"id": rows[0]["Id"]} if rows else None

    client.call(
        f"tooling create {sobject}",
        tooling("POST", f"sobjects/{sobject}/", body),
        create=True,
        lookup=lookup,
    )
