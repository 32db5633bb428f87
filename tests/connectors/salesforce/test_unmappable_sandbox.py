"""A record the mapping cannot read is reported through the pull, never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servefirst.connectors.base import PullWindow, UnmappableRecord
from servefirst.connectors.salesforce import SalesforceConnector
from servefirst.connectors.sandboxkit import RunningSandbox
from servefirst.playbook.model import Engagement


def test_an_unreadable_opportunity_comes_out_as_unmappable(
    new_sandbox: Callable[..., RunningSandbox],
    connector_for: Callable[..., SalesforceConnector],
    rep: Callable[[RunningSandbox], Any],
) -> None:
    # RevOps mapped the Operational Date onto a free-text field, where a rep wrote words.
    sandbox = new_sandbox()
    try:
        admin = connector_for(sandbox)
        admin.provision(admin.playbook, dry_run=False)
        admin.close()
        sf = rep(sandbox)
        good = sf.Opportunity.create(
            {
                "Name": "Line automation",
                "StageName": "Design",
                "CloseDate": "2027-01-15",
                "Description": "2027-06-30",
            }
        )["id"]
        bad = sf.Opportunity.create(
            {
                "Name": "Test lab upgrade",
                "StageName": "Design",
                "CloseDate": "2027-01-15",
                "Description": "next spring",
            }
        )["id"]
        sf.session.close()
        connector = connector_for(sandbox, fields={"operational_date": "Description"})
        try:
            pulled = {
                item.id if isinstance(item, Engagement) else item.record_id: item
                for item in connector.pull(PullWindow())
            }
        finally:
            connector.close()
    finally:
        sandbox.stop()
    assert set(pulled) == {good, bad}
    readable = pulled[good]
    assert isinstance(readable, Engagement)
    assert readable.operational_date is not None
    unreadable = pulled[bad]
    assert isinstance(unreadable, UnmappableRecord)
    assert "'next spring' is not a date" in unreadable.reason
    assert "field mapping" in unreadable.reason  # says what to do
