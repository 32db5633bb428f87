"""The admin API lists what it serves, every listed endpoint answers, and the docs cover it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from servefirst.connectors.sandboxkit import RunningSandbox

DOCS = Path(__file__).parents[3] / "docs" / "sandbox-admin.md"


@pytest.fixture(params=["salesforce", "hubspot"])
def sandbox(
    request: pytest.FixtureRequest, fresh_org: RunningSandbox, portal: RunningSandbox
) -> RunningSandbox:
    return fresh_org if request.param == "salesforce" else portal


def test_the_listing_names_every_endpoint_once_and_each_get_answers(
    sandbox: RunningSandbox,
) -> None:
    endpoints = sandbox.admin.endpoints()
    keys = [(e["method"], e["path"]) for e in endpoints]
    assert len(keys) == len(set(keys))
    assert ("GET", "/__sandbox__/") in keys and ("POST", "/__sandbox__/faults") in keys
    assert all(e["summary"] for e in endpoints)
    for method, path in keys:
        if method == "GET":
            assert sandbox.admin.call("GET", path.removeprefix("/__sandbox__")) is not None


def test_the_knobs_each_issue_names_are_listed(
    fresh_org: RunningSandbox, portal: RunningSandbox
) -> None:
    salesforce = {(e["method"], e["path"]) for e in fresh_org.admin.endpoints()}
    hubspot = {(e["method"], e["path"]) for e in portal.admin.endpoints()}
    assert ("POST", "/__sandbox__/bulk") in salesforce
    assert {("POST", "/__sandbox__/search-lag"), ("POST", "/__sandbox__/ratelimits")} <= hubspot


def test_an_unknown_endpoint_or_bad_body_is_refused(sandbox: RunningSandbox) -> None:
    verify = str(sandbox.ca_bundle) if sandbox.ca_bundle else True
    missing = requests.get(f"{sandbox.url}/__sandbox__/nothing", verify=verify, timeout=10)
    assert missing.status_code == 404
    bad = requests.post(
        f"{sandbox.url}/__sandbox__/faults", json={"kind": "nonsense"}, verify=verify, timeout=10
    )
    assert bad.status_code == 400 and "nonsense" in bad.json()["error"]


def test_the_docs_cover_every_listed_endpoint(sandbox: RunningSandbox) -> None:
    text = DOCS.read_text(encoding="utf-8")
    undocumented = [
        f"{e['method']} {e['path']}"
        for e in sandbox.admin.endpoints()
        if f"`{e['method']} {e['path']}`" not in text
    ]
    assert undocumented == []
