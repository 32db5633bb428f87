"""The admin knobs tests use to change a portal mid-pull: small pages, and a held request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot.crm.deals import PublicObjectSearchRequest, SimplePublicObjectInputForCreate

from servefirst.connectors.sandboxkit import RunningSandbox


@pytest.fixture
def three_deals(
    empty_sandbox: RunningSandbox, connect: Any
) -> Iterator[tuple[RunningSandbox, Any]]:
    apis = connect(empty_sandbox.url, empty_sandbox.token)
    for name in ("one", "two", "three"):
        apis.deals.create(SimplePublicObjectInputForCreate(properties={"dealname": name}))
    yield empty_sandbox, apis
    empty_sandbox.admin.release()


def _search(apis: Any, after: str | None = None) -> Any:
    request = PublicObjectSearchRequest(limit=100, properties=["dealname"], after=after)
    return apis.deals_search.do_search(public_object_search_request=request)


def test_a_page_cap_pages_a_handful_of_deals(three_deals: tuple[RunningSandbox, Any]) -> None:
    sandbox, apis = three_deals
    sandbox.admin.call("POST", "/page-cap", {"max": 2})
    first = _search(apis)
    second = _search(apis, first.paging.next.after)
    assert (len(first.results), len(second.results), second.paging) == (2, 1, None)
    sandbox.admin.call("POST", "/page-cap", {"max": None})
    assert len(_search(apis).results) == 3


def test_a_held_request_waits_while_others_are_served(
    three_deals: tuple[RunningSandbox, Any],
) -> None:
    sandbox, apis = three_deals
    sandbox.admin.hold(1, "/crm/v3/objects/deals/search", timeout_seconds=20)
    seen: list[int] = []
    searching = threading.Thread(target=lambda: seen.append(_search(apis).total))
    searching.start()
    deadline = time.monotonic() + 10
    while not sandbox.admin.holding() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox.admin.holding()
    apis.deals.create(SimplePublicObjectInputForCreate(properties={"dealname": "four"}))
    assert seen == []  # still parked: the create went through meanwhile
    sandbox.admin.release()
    searching.join(timeout=10)
    assert seen == [4]  # the held search ran after the create
    assert not sandbox.admin.holding()
