"""Pulling engagements by id, on both CRMs: the retry set and date-dependent text rely on it.

An incremental window that names ids returns those engagements whether or not they changed,
mapped exactly as a full scan maps them (sponsors, open playbook tasks), each once, without a
call of its own.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from servefirst.connectors.base import Connector, Plan, PullWindow, TaskOpen, mapped
from servefirst.connectors.salesforce.ids import to18
from servefirst.playbook.model import DesiredTask, task_key
from servefirst.sync.connectors import open_connector

TODAY = dt.datetime.now(dt.UTC).date()
#: A watermark no record can be modified after: the window's modified part finds nothing.
FUTURE = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
#: A watermark every record of the test was modified after.
PAST = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)


def _connector(crm: Any) -> Connector:
    name = next(iter(crm.settings.connections))
    return open_connector(name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir)


def _seed(crm: Any) -> dict[str, str]:
    made = {
        name: crm.make(
            name=name,
            stage="design",
            po_date=TODAY + dt.timedelta(days=30),
            sponsor=True,
        )
        for name in ("Asked", "Also asked", "Not asked")
    }
    task = DesiredTask(
        key=task_key(made["Asked"], "success_criteria_missing"),
        rule="success_criteria_missing",
        subject="Write the success criteria",
        description="What will the customer measure?",
        due=TODAY + dt.timedelta(days=3),
    )
    connector = _connector(crm)
    try:
        result = connector.apply(Plan(task_opens=(TaskOpen(made["Asked"], task),)))
    finally:
        connector.close()
    assert [r.ok for r in result.results] == [True]
    return made


def test_ids_come_back_unchanged_or_not_mapped_as_a_full_scan_maps_them(crm: Any) -> None:
    made = _seed(crm)
    connector = _connector(crm)
    try:
        full = {e.id: e for e in mapped(connector.pull(PullWindow()))}
        quiet = connector.pull(PullWindow(modified_since=FUTURE))
        assert list(quiet) == []
        calls = connector.api_calls.read
        list(connector.pull(PullWindow(modified_since=FUTURE)))
        without_ids = connector.api_calls.read - calls
        asked = (made["Asked"], made["Also asked"], made["Asked"], "no-such-id'); x")
        calls = connector.api_calls.read
        pulled = list(mapped(connector.pull(PullWindow(modified_since=FUTURE, ids=asked))))
        with_ids = connector.api_calls.read - calls
    finally:
        connector.close()
    by_id = {e.id: e for e in pulled}
    assert len(pulled) == len(by_id) == 2
    assert set(by_id) == {made["Asked"], made["Also asked"]}
    for engagement_id, engagement in by_id.items():
        assert engagement == full[engagement_id]
    asked_one = by_id[made["Asked"]]
    assert [t.rule for t in asked_one.open_tasks] == ["success_criteria_missing"]
    assert len(asked_one.sponsors) == 1
    # The ids ride along in the window's own query: the pages of mapped deals cost the same
    # batch reads a full scan pays, the query itself costs nothing extra.
    assert with_ids - without_ids <= _surroundings(crm)


def test_ids_already_in_the_window_come_back_once(crm: Any) -> None:
    made = _seed(crm)
    connector = _connector(crm)
    try:
        window = PullWindow(modified_since=PAST, ids=(made["Asked"], made["Not asked"]))
        pulled = [e.id for e in mapped(connector.pull(window))]
    finally:
        connector.close()
    assert Counter(pulled) == Counter(made.values())


def _surroundings(crm: Any) -> int:
    """Reads a CRM makes around one page of engagements (none on Salesforce: one query)."""
    return 0 if crm.name == "salesforce" else 6


def test_thousands_of_ids_split_into_queries_the_crm_accepts(crm: Any) -> None:
    made = _seed(crm)
    unknown = [_unknown_id(crm, n) for n in range(1, 1500)]
    asked = (*unknown[:700], made["Asked"], *unknown[700:], made["Also asked"])
    connector = _connector(crm)
    try:
        pulled = [
            e.id for e in mapped(connector.pull(PullWindow(modified_since=FUTURE, ids=asked)))
        ]
    finally:
        connector.close()
    assert sorted(pulled) == sorted([made["Asked"], made["Also asked"]])


def _unknown_id(crm: Any, n: int) -> str:
    """A well-formed id of a record the CRM does not hold."""
    if crm.name == "hubspot":
        return str(10**12 + n)
    full = to18(f"006Zz{n:010d}")
    assert full is not None
    return full
