"""The CRM's clock, not this machine's, sets the watermark: no edit is lost to clock skew.

Each sandbox runs its clock 10 minutes behind or ahead of this machine (Date header and every
stamp it writes). An incremental sync must still see an edit a rep made after the last sync.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from servefirst.sync.connectors import open_connector
from servefirst.sync.engine.run import SyncOptions
from servefirst.sync.service import sync_connection

TODAY = dt.datetime.now(dt.UTC).date()
SKEWS = pytest.mark.parametrize("minutes", [-10, 10], ids=["crm-behind", "crm-ahead"])


@SKEWS
def test_server_time_is_the_crms_clock_before_and_after_requests(crm: Any, minutes: int) -> None:
    crm.sandbox.admin.set_clock_offset(minutes * 60)
    name = next(iter(crm.settings.connections))
    connector = open_connector(
        name, crm.settings.connections[name], crm.playbook, crm.settings.base_dir
    )
    try:
        first = connector.server_time()  # no request made yet: it asks the CRM
        expected = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
        assert abs(first - expected) < dt.timedelta(seconds=5)
        crm.sandbox.admin.set_clock_offset(0)
        connector.server_time()
        assert connector.server_time() == first  # the first reply's clock, kept
    finally:
        connector.close()


@SKEWS
def test_an_incremental_sync_loses_no_edit_whatever_the_crm_clock(crm: Any, minutes: int) -> None:
    crm.sandbox.admin.set_clock_offset(minutes * 60)
    engagement_id = crm.make(
        name="Clock skew", stage="design", po_date=TODAY + dt.timedelta(days=30), sponsor=True
    )
    first = sync_connection(crm.settings, crm.playbook, None, SyncOptions(as_of=TODAY))
    assert first.errors == []
    assert "has no Operational Date yet" in (crm.rep.plugin_fields(engagement_id)[1] or "")

    crm.rep.set_operational_date(engagement_id, TODAY + dt.timedelta(days=200))
    second = sync_connection(crm.settings, crm.playbook, None, SyncOptions(as_of=TODAY))

    assert second.errors == []
    assert not second.full_scan
    assert engagement_id in [e.id for e in second.engagements]
    assert "has no Operational Date yet" not in (crm.rep.plugin_fields(engagement_id)[1] or "")
