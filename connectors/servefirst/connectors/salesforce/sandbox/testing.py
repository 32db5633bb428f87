"""Helpers for code that tests against the sandbox (its own suite, the connector's, benchmarks).

They use simple-salesforce the way an integration would, never the sandbox's internals.
"""

from __future__ import annotations

from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox.client import client_session
from servefirst.connectors.salesforce.sandbox.org import PERMISSION_SET
from servefirst.connectors.sandboxkit import RunningSandbox


def connect(sandbox: RunningSandbox, version: str = "59.0", timeout: float = 30.0) -> Any:
    """A simple-salesforce client on the sandbox's pre-issued token, trusting its CA."""
    if sandbox.ca_bundle is None:
        raise ValueError("the Salesforce sandbox always serves TLS; its CA bundle is missing")
    return Salesforce(
        instance_url=sandbox.url,
        session_id=sandbox.token,
        version=version,
        session=client_session(sandbox.ca_bundle, timeout=timeout),
    )


def grant_field_access(sf: Any, *fields: str, edit: bool = True) -> None:
    """Grant the integration user's permission set access to ``Object.Field__c`` fields."""
    found = sf.query(format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", PERMISSION_SET))
    parent_id = found["records"][0]["Id"]
    for field in fields:
        sf.FieldPermissions.create(
            {
                "ParentId": parent_id,
                "SobjectType": field.split(".")[0],
                "Field": field,
                "PermissionsRead": True,
                "PermissionsEdit": edit,
            }
        )


def create_custom_field(sf: Any, full_name: str, metadata: dict[str, Any]) -> str:
    """Create a custom field through the Tooling API; returns its 00N id."""
    result = sf.toolingexecute(
        "sobjects/CustomField/", method="POST", data={"FullName": full_name, "Metadata": metadata}
    )
    return str(result["id"])


def first_error(exc: Any) -> dict[str, Any]:
    """The first entry of a simple-salesforce exception's Salesforce error list."""
    content = exc.content
    if not isinstance(content, list) or not content:
        raise AssertionError(f"not a Salesforce error list: {content!r}")
    return dict(content[0])
