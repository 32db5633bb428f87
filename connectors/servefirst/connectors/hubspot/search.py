"""Building the deal searches of a pull: pure, so the query shapes are unit-tested.

HubSpot's search ORs filter groups and ANDs the filters inside a group (at most 5 groups, 6
filters per group and 18 filters per query), so a pull window "modified since *S* OR PO date
in [a, b) OR Operational Date in [c, d)" becomes one group per criterion, each also restricted
to the pipeline. Windows with more criteria than one query can hold are split into several
queries; the pull de-duplicates across them. Engagements asked for by id (``PullWindow.ids``)
ride along as further groups, "pipeline AND ``hs_object_id`` IN (up to 100 ids)", so they cost
no call of their own while the query has room.

Every query is sorted ascending on ``hs_object_id``, the unique id, and read by keyset: each
page is the same query with ``hs_object_id > last id read``, never an ``after`` offset. Offsets
shift when a record leaves or joins the result set between two pages (a deal deleted behind
the cursor makes the next page start one record late), and HubSpot answers 400 to any offset
past the 10,000th result; a keyset has neither problem and costs the same one call per page.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from hubspot.crm.deals import Filter, FilterGroup, PublicObjectSearchRequest

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import PullWindow
from servefirst.playbook.model import DateRange

log = logging.getLogger(__name__)

MAX_GROUPS = 5
MAX_FILTERS = 18
PAGE_SIZE = 200
#: Results one search query can page through; asking past it answers 400.
RESULT_CAP = 10_000
#: How far before the watermark an incremental pull starts: HubSpot's search index trails
#: writes by seconds (sometimes minutes), so a deal modified just before the last run's
#: watermark may not have been searchable then. De-duplication makes the overlap harmless.
#: A connection's ``incremental_overlap_seconds`` overrides it.
INDEX_LAG_OVERLAP = dt.timedelta(minutes=5)
ID_PROPERTY = "hs_object_id"
#: Ids one ``IN`` filter carries.
IN_VALUES = 100
MODIFIED_PROPERTY = "hs_lastmodifieddate"


@dataclass(frozen=True)
class SearchFilter:
    """One filter of a search filter group, in HubSpot's terms."""

    property_name: str
    operator: str
    value: str | None = None
    high_value: str | None = None
    values: tuple[str, ...] | None = None


Group = tuple[SearchFilter, ...]


def epoch_ms(value: dt.date | dt.datetime) -> str:
    """A date (midnight UTC) or an aware datetime as HubSpot's epoch-millisecond filter value."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(0, tzinfo=dt.UTC))
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return str(int(value.timestamp() * 1000))


def _range_group(date_range: DateRange, fields: HubSpotFields) -> Group:
    if date_range.field not in ("po_date", "operational_date"):
        raise ValueError(f"cannot pull by date field {date_range.field!r}")
    prop: str = getattr(fields, date_range.field)
    return (
        SearchFilter(prop, "GTE", epoch_ms(date_range.start)),
        SearchFilter(prop, "LT", epoch_ms(date_range.end)),
    )


def criteria_groups(
    window: PullWindow, fields: HubSpotFields, overlap: dt.timedelta = INDEX_LAG_OVERLAP
) -> list[Group]:
    """The ORed criteria of a window, before the pipeline and paging filters are added.

    A window without ``modified_since`` is a full scan: one empty group (everything), which
    already holds every id the window names.
    """
    if window.modified_since is None:
        return [()]
    groups: list[Group] = [
        (SearchFilter(MODIFIED_PROPERTY, "GTE", epoch_ms(window.modified_since - overlap)),)
    ]
    groups += [_range_group(r, fields) for r in window.date_ranges]
    ids = sorted(dict.fromkeys(i for i in window.ids if i.isdigit()), key=int)
    for odd in (i for i in window.ids if not i.isdigit()):
        log.warning("not a HubSpot record id, not pulled: %r", odd)
    for start in range(0, len(ids), IN_VALUES):
        chunk = tuple(ids[start : start + IN_VALUES])
        groups.append((SearchFilter(ID_PROPERTY, "IN", values=chunk),))
    return list(dict.fromkeys(groups))


def queries(
    window: PullWindow,
    fields: HubSpotFields,
    pipeline_id: str,
    overlap: dt.timedelta = INDEX_LAG_OVERLAP,
) -> list[list[Group]]:
    """The search queries a pull runs, each within HubSpot's limits, pipeline-restricted.

    Groups are packed greedily into as few queries as the limits allow, counting the id filter
    every page after the first adds to each group.
    """
    pipeline = SearchFilter("pipeline", "EQ", pipeline_id)
    packed: list[list[Group]] = []
    filters = 0
    for criteria in criteria_groups(window, fields, overlap):
        group = (pipeline, *criteria)
        size = len(group) + 1
        if not packed or len(packed[-1]) == MAX_GROUPS or filters + size > MAX_FILTERS:
            packed.append([])
            filters = 0
        packed[-1].append(group)
        filters += size
    return packed


def page_groups(query: list[Group], after_id: str | None) -> list[Group]:
    """The groups of one page: each group also asks for ids above the last one seen."""
    if after_id is None:
        return query
    after = SearchFilter(ID_PROPERTY, "GT", after_id)
    return [(*g, after) for g in query]


def search_request(groups: list[Group], properties: list[str], configuration: Any = None) -> Any:
    """The client's request model for one page: sorted on the id, ``PAGE_SIZE`` results.

    ``configuration`` is the search API's client configuration (see ``HubSpotClient.model``).
    """
    cfg = {"local_vars_configuration": configuration} if configuration is not None else {}
    return PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(
                        property_name=f.property_name,
                        operator=f.operator,
                        value=f.value,
                        high_value=f.high_value,
                        values=list(f.values) if f.values is not None else None,
                        **cfg,
                    )
                    for f in group
                ],
                **cfg,
            )
            for group in groups
        ],
        **cfg,
        sorts=[{"propertyName": ID_PROPERTY, "direction": "ASCENDING"}],
        properties=properties,
        limit=PAGE_SIZE,
    )
