"""``sobjects/X/updated`` and ``sobjects/X/deleted``: the replication API (simple-salesforce's
``SFType.updated(start, end)`` and ``SFType.deleted(start, end)``).

Updated ids are the live records whose SystemModstamp falls in the window; deleted records
report their deletion time. As in Salesforce, the window may reach 30 days back for updates
and 15 days back for deletes (the recycle bin), else INVALID_REPLICATION_DATE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request
from servefirst.connectors.salesforce.sandbox.http import AfterWrite, Call, api_route
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.routes_sobjects import object_of
from servefirst.connectors.salesforce.sandbox.values import format_datetime, parse_datetime


def _window(call: Call, days_back: int) -> tuple[datetime, datetime, datetime]:
    try:
        start = parse_datetime(call.query.get("start"))
        end = parse_datetime(call.query.get("end"))
    except SfError:
        raise bad_request(
            "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 datetimes with a zone"
        ) from None
    now = call.org.store.clock.now()
    earliest = now - timedelta(days=days_back)
    if start < earliest or end <= start:
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            f"start must be after {format_datetime(earliest)} and before end",
        )
    return start, min(end, now), earliest


def _updated(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    start, end, _ = _window(call, 30)
    ids = [
        record_id
        for record_id, rec in call.org.store.tables[obj.name].items()
        if not rec.get("IsDeleted") and start <= rec["SystemModstamp"] <= end
    ]
    return 200, {"ids": ids, "latestDateCovered": format_datetime(end)}


def _deleted(call: Call) -> tuple[int, Any]:
    obj = object_of(call, call.params["sobject"])
    start, end, earliest = _window(call, 15)
    deleted = [
        {"id": record_id, "deletedDate": format_datetime(rec["SystemModstamp"])}
        for record_id, rec in call.org.store.tables[obj.name].items()
        if rec.get("IsDeleted") and start <= rec["SystemModstamp"] <= end
    ]
    return 200, {
        "deletedRecords": deleted,
        "earliestDateAvailable": format_datetime(earliest),
        "latestDateCovered": format_datetime(end),
    }


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    return [
        *api_route(org, "/sobjects/{sobject}/updated", ["GET"], _updated, after_write),
        *api_route(org, "/sobjects/{sobject}/deleted", ["GET"], _deleted, after_write),
    ]
