"""Pulling through the real simple-salesforce against the sandbox: full, incremental, roles."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from servefirst.connectors.base import Connector, PullWindow, mapped
from servefirst.connectors.salesforce import SalesforceConnector, soql
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.errors import ConfigError
from servefirst.playbook.model import DateRange, Engagement, Health, Status

Counted = Callable[[RunningSandbox, str], int]


@pytest.fixture(scope="module")
def org(
    new_sandbox: Callable[..., RunningSandbox],
    connector_for: Callable[..., SalesforceConnector],
    rep: Callable[[RunningSandbox], Any],
) -> Iterator[dict[str, Any]]:
    """A provisioned org with three engagements, roles and tasks made the way a rep would."""
    sandbox = new_sandbox()
    connector = connector_for(sandbox)
    connector.provision(connector.playbook, dry_run=False)
    connector.close()
    sf = rep(sandbox)
    account = sf.Account.create({"Name": "Acme Tensile"})["id"]
    dana = sf.Contact.create(
        {
            "AccountId": account,
            "FirstName": "Dana",
            "LastName": "Whitfield",
            "Email": "dana@acme.test",
            "Title": "COO",
        }
    )["id"]
    lee = sf.Contact.create({"AccountId": account, "LastName": "Lee"})["id"]
    discover = sf.Opportunity.create(
        {
            "Name": "Test lab upgrade",
            "AccountId": account,
            "StageName": "Discover",
            "CloseDate": "2027-03-31",
            "Amount": 120000,
            "Operational_Date__c": "2027-06-30",
            "Success_Criteria__c": "- [x] setup under 10 minutes\n- [ ] no retests",
            "Playbook_Health__c": "At risk",
            "Operational_Date_Slips__c": 1,
        }
    )["id"]
    design = sf.Opportunity.create(
        {
            "Name": "Line automation",
            "AccountId": account,
            "StageName": "Design",
            "CloseDate": "2027-01-15",
        }
    )["id"]
    won = sf.Opportunity.create(
        {"Name": "Audit program", "StageName": "Closed Won", "CloseDate": "2026-02-10"}
    )["id"]
    sf.OpportunityContactRole.create(
        {"OpportunityId": discover, "ContactId": dana, "Role": "Executive Sponsor"}
    )
    sf.OpportunityContactRole.create(
        {"OpportunityId": discover, "ContactId": lee, "Role": "Evaluator"}
    )
    key = f"servefirst:{discover}:po_date_past"
    open_task = sf.Task.create(
        {
            "Subject": "Agree the PO date",
            "WhatId": discover,
            "ServeFirst_Key__c": key,
            "Status": "Not Started",
            "Priority": "Normal",
        }
    )["id"]
    sf.Task.create(
        {
            "Subject": "Done",
            "WhatId": discover,
            "ServeFirst_Key__c": f"servefirst:{discover}:sponsor_missing",
            "Status": "Completed",
            "Priority": "Normal",
        }
    )
    sf.Task.create(
        {
            "Subject": "A rep's own task",
            "WhatId": discover,
            "Status": "Not Started",
            "Priority": "Normal",
        }
    )
    yield {
        "sandbox": sandbox,
        "sf": sf,
        "account": account,
        "dana": dana,
        "lee": lee,
        "discover": discover,
        "design": design,
        "won": won,
        "task": open_task,
        "key": key,
    }
    sf.session.close()
    sandbox.stop()


def by_id(engagements: list[Engagement]) -> dict[str, Engagement]:
    ids = [e.id for e in engagements]
    assert len(ids) == len(set(ids)), "an engagement was yielded twice"
    return {e.id: e for e in engagements}


def watermark_after_quiet() -> dt.datetime:
    """A watermark later than every write so far, even at SOQL's whole-second precision.

    The sandbox runs on this machine's clock; its ``Date`` header is only refreshed once a
    second, so the tests take the watermark from the local clock, past the next whole second.
    """
    now = time.time()
    time.sleep(math.floor(now) + 1.02 - now)
    return dt.datetime.now(dt.UTC)


def test_connector_satisfies_the_seam_and_reads_the_server_clock(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    connector: Connector = connector_for(org["sandbox"])
    assert connector.crm == "salesforce"
    list(connector.pull(PullWindow()))
    assert abs(connector.server_time() - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=3)
    assert connector.server_time().tzinfo is not None
    connector.close()


def test_full_pull_maps_opportunities_roles_owner_account_and_open_tasks(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector], counted: Counted
) -> None:
    sandbox = org["sandbox"]
    connector = connector_for(sandbox)
    before = counted(sandbox, "GET query")
    pulled = by_id(list(mapped(connector.pull(PullWindow()))))
    assert counted(sandbox, "GET query") - before == 1
    assert set(pulled) == {org["discover"], org["design"], org["won"]}
    e = pulled[org["discover"]]
    assert (e.name, e.account, e.owner_name) == (
        "Test lab upgrade",
        "Acme Tensile",
        "ServeFirst Integration",
    )
    assert (e.stage, e.status, e.amount) == ("discover", Status.OPEN, 120000.0)
    assert (e.po_date, e.operational_date) == (dt.date(2027, 3, 31), dt.date(2027, 6, 30))
    assert [(c.text, c.met) for c in e.success_criteria] == [
        ("setup under 10 minutes", True),
        ("no retests", False),
    ]
    assert [(s.contact_id, s.name, s.email, s.title) for s in e.sponsors] == [
        (org["dana"], "Dana Whitfield", "dana@acme.test", "COO")
    ]
    assert (e.current.health, e.current.slips) == (Health.AT_RISK, 1)
    assert [(t.key, t.rule, t.task_id) for t in e.open_tasks] == [
        (org["key"], "po_date_past", org["task"])
    ]
    assert pulled[org["won"]].status is Status.WON and pulled[org["won"]].stage == "won"
    assert pulled[org["design"]].sponsors == () and pulled[org["design"]].open_tasks == ()
    assert connector.api_calls.read == 1 and connector.api_calls.write == 0
    connector.close()


def test_incremental_pull_returns_only_what_changed_and_costs_three_calls(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector], counted: Counted
) -> None:
    sandbox, sf = org["sandbox"], org["sf"]
    connector = connector_for(sandbox, incremental_overlap_seconds=0)
    since = watermark_after_quiet()
    before = connector.api_calls.read
    assert list(connector.pull(PullWindow(modified_since=since))) == []
    # no change: roles changed, tasks completed, opportunities changed: three data calls
    assert connector.api_calls.read - before <= 3
    sf.Opportunity.update(org["design"], {"Amount": 99000})
    changed = list(mapped(connector.pull(PullWindow(modified_since=since))))
    assert [(e.id, e.amount) for e in changed] == [(org["design"], 99000.0)]
    connector.close()


def test_overlap_window_rereads_recent_changes(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    connector = connector_for(org["sandbox"], incremental_overlap_seconds=None)  # default: 5 min
    since = watermark_after_quiet()
    assert {e.id for e in mapped(connector.pull(PullWindow(modified_since=since)))} == {
        org["discover"],
        org["design"],
        org["won"],
    }
    connector.close()


def test_contact_role_change_brings_its_opportunity_without_an_extra_call(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector], counted: Counted
) -> None:
    sandbox, sf = org["sandbox"], org["sf"]
    connector = connector_for(sandbox, incremental_overlap_seconds=0)
    since = watermark_after_quiet()
    stamp = sf.Opportunity.get(org["design"])["SystemModstamp"]
    sf.OpportunityContactRole.create(
        {"OpportunityId": org["design"], "ContactId": org["lee"], "Role": "Executive Sponsor"}
    )
    assert (
        sf.Opportunity.get(org["design"])["SystemModstamp"] == stamp
    )  # roles leave the deal alone
    before = _queries(sandbox, counted)
    changed = list(mapped(connector.pull(PullWindow(modified_since=since))))
    assert _queries(sandbox, counted) - before == 3  # roles, completed tasks, the main query
    assert [e.id for e in changed] == [org["design"]]
    assert [s.contact_id for s in changed[0].sponsors] == [org["lee"]]
    connector.close()


def test_a_deleted_sponsor_role_brings_its_opportunity_without_an_extra_call(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector], counted: Counted
) -> None:
    sandbox, sf = org["sandbox"], org["sf"]
    connector = connector_for(sandbox, incremental_overlap_seconds=0)
    role = sf.OpportunityContactRole.create(
        {"OpportunityId": org["won"], "ContactId": org["lee"], "Role": "Executive Sponsor"}
    )["id"]
    full = {e.id: e for e in mapped(connector.pull(PullWindow()))}
    assert [s.contact_id for s in full[org["won"]].sponsors] == [org["lee"]]
    since = watermark_after_quiet()
    stamp = sf.Opportunity.get(org["won"])["SystemModstamp"]
    sf.OpportunityContactRole.delete(role)
    assert sf.Opportunity.get(org["won"])["SystemModstamp"] == stamp
    before = _queries(sandbox, counted)
    changed = list(mapped(connector.pull(PullWindow(modified_since=since))))
    assert [(e.id, e.sponsors) for e in changed] == [(org["won"], ())]
    assert _queries(sandbox, counted) - before == 3  # no call added for deleted roles
    connector.close()


def _queries(sandbox: RunningSandbox, counted: Counted) -> int:
    return counted(sandbox, "GET query") + counted(sandbox, "GET queryAll")


def test_key_date_ranges_are_ored_into_the_window_and_deduplicated(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    sf = org["sf"]
    connector = connector_for(org["sandbox"], incremental_overlap_seconds=0)
    since = watermark_after_quiet()
    window = PullWindow(
        modified_since=since,
        date_ranges=(
            DateRange(field="po_date", start=dt.date(2026, 2, 1), end=dt.date(2026, 3, 1)),
            DateRange(
                field="operational_date", start=dt.date(2027, 6, 30), end=dt.date(2027, 7, 1)
            ),
        ),
    )
    assert sorted(e.id for e in mapped(connector.pull(window))) == sorted(
        [org["won"], org["discover"]]
    )
    sf.Opportunity.update(org["won"], {"Amount": 5})  # changed *and* in a range: yielded once
    assert sorted(e.id for e in mapped(connector.pull(window))) == sorted(
        [org["won"], org["discover"]]
    )
    connector.close()


def test_pull_is_a_generator_that_reads_page_by_page(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector], counted: Counted
) -> None:
    sandbox = org["sandbox"]
    connector = connector_for(sandbox)
    before = counted(sandbox, "GET query")
    pulled = connector.pull(PullWindow())
    assert counted(sandbox, "GET query") == before  # nothing is read until iterated
    next(pulled)
    assert counted(sandbox, "GET query") == before + 1
    connector.close()


def test_a_stage_map_naming_a_stage_the_org_lacks_stops_the_pull(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    """Mapped as written, every Design opportunity would lose its stage and its tasks."""
    connector = connector_for(org["sandbox"], stage_map={"design": "Solution Design"})
    with pytest.raises(ConfigError, match="Solution Design") as refused:
        list(connector.pull(PullWindow()))
    assert "'Design'" in str(refused.value)
    connector.close()


def test_quotes_in_configured_values_cannot_break_the_query(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    connector = connector_for(org["sandbox"], sponsor_role="Sponsor' OR Role != '")
    pulled = list(mapped(connector.pull(PullWindow())))
    assert len(pulled) == 3 and all(e.sponsors == () for e in pulled)
    connector.close()


def test_paged_child_subquery_is_completed(
    org: dict[str, Any], connector_for: Callable[..., SalesforceConnector]
) -> None:
    """A child list Salesforce marks ``done: false`` is fetched in full before mapping."""
    connector = connector_for(org["sandbox"])
    puller = connector._puller
    record = next(iter(puller._records(soql.by_ids(puller.query, [org["discover"]]))))
    truncated = {
        **record,
        "OpportunityContactRoles": {"totalSize": 2, "done": False, "records": []},
    }
    completed = connector._puller._complete(truncated)
    assert [r["ContactId"] for r in completed["OpportunityContactRoles"]["records"]] == [
        org["dana"]
    ]
    connector.close()


def test_unprovisioned_org_is_a_config_error_saying_what_to_do(
    new_sandbox: Callable[..., RunningSandbox], connector_for: Callable[..., SalesforceConnector]
) -> None:
    sandbox = new_sandbox()
    connector = connector_for(sandbox)
    try:
        with pytest.raises(ConfigError, match="servefirst provision") as info:
            list(connector.pull(PullWindow()))
        assert "INVALID_FIELD" in str(info.value)
    finally:
        connector.close()
        sandbox.stop()
