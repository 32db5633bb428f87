"""Shapes the Salesforce CLI relies on, checked through Python clients.

The CLI stores the instance URL with a trailing slash and requests ``//services/data/...``,
which real orgs serve; ``sf data query`` tells a parent path from a child subquery by the
``aggregate`` flag of a ``columns=true`` column that has ``joinColumns``. The column shapes
follow the column metadata the CLI's own tests answer for a parent path and a subquery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servefirst.connectors.salesforce.sandbox import RunningSandbox, client_session


def test_a_doubled_slash_after_the_instance_url_is_served_as_one(
    sf: Any, fresh_org: RunningSandbox
) -> None:
    assert fresh_org.ca_bundle is not None
    session = client_session(Path(fresh_org.ca_bundle))
    headers = {"Authorization": f"Bearer {fresh_org.token}"}
    try:
        versions = session.get(f"{fresh_org.url}//services/data", headers=headers)
        assert versions.status_code == 200
        assert versions.json() == session.get(f"{fresh_org.url}/services/data").json()
        users = session.get(
            f"{fresh_org.url}//services/data/v59.0//query",
            params={"q": "SELECT Id FROM User"},
            headers=headers,
        )
        assert users.status_code == 200
        assert users.json()["totalSize"] == sf.query("SELECT Id FROM User")["totalSize"]
    finally:
        session.close()


def test_a_child_subquery_column_is_an_aggregate_and_a_parent_path_is_not(sf: Any) -> None:
    meta = sf.restful(
        "query",
        params={
            "q": "SELECT Name, Owner.Name, (SELECT Name, Amount FROM Opportunities) FROM Account",
            "columns": "true",
        },
    )
    name, owner, opportunities = meta["columnMetadata"]
    assert (name["columnName"], name["aggregate"], name["joinColumns"]) == ("Name", False, [])
    assert (owner["columnName"], owner["aggregate"], owner["foreignKeyName"]) == (
        "Owner",
        False,
        "OwnerId",
    )
    assert opportunities["foreignKeyName"] is None
    assert [c["columnName"] for c in owner["joinColumns"]] == ["Name"]
    assert (opportunities["columnName"], opportunities["aggregate"]) == ("Opportunities", True)
    assert [c["columnName"] for c in opportunities["joinColumns"]] == ["Name", "Amount"]
    assert not opportunities["insertable"] and not opportunities["updatable"]
