"""A deal the mapping cannot read is reported through the pull, never dropped or fatal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import PullWindow, UnmappableRecord
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Engagement

if TYPE_CHECKING:
    from tests.connectors.hubspot.conftest import Portal


def test_an_unreadable_deal_comes_out_as_unmappable(portal: Portal, prime: Playbook) -> None:
    # RevOps mapped the slip count onto a free-text property, where a rep wrote a huge number.
    good = portal.rep.deal("Line automation", description="2")
    bad = portal.rep.deal("Test lab upgrade", description="1e999")
    connector = portal.connector(prime, fields=HubSpotFields(slips="description"))
    pulled = {
        item.id if isinstance(item, Engagement) else item.record_id: item
        for item in connector.pull(PullWindow())
    }
    readable = pulled[good]
    assert isinstance(readable, Engagement)
    assert readable.current.slips == 2
    unreadable = pulled[bad]
    assert isinstance(unreadable, UnmappableRecord)
    assert "cannot read this deal" in unreadable.reason
    assert "field mapping" in unreadable.reason
