"""Search query building: criteria groups, pipeline restriction, keyset paging, limits."""

from __future__ import annotations

import datetime as dt

from servefirst.config.settings import HubSpotFields
from servefirst.connectors.base import PullWindow
from servefirst.connectors.hubspot.search import (
    MAX_FILTERS,
    MAX_GROUPS,
    Group,
    SearchFilter,
    criteria_groups,
    epoch_ms,
    page_groups,
    queries,
    search_request,
)
from servefirst.playbook.model import DateRange

FIELDS = HubSpotFields()
SINCE = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_epoch_ms_of_dates_is_midnight_utc() -> None:
    assert epoch_ms(dt.date(1970, 1, 2)) == "86400000"
    assert epoch_ms(dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=dt.UTC)) == "1000"


def test_a_full_scan_is_one_pipeline_only_query() -> None:
    assert queries(PullWindow(), FIELDS, "77") == [[(SearchFilter("pipeline", "EQ", "77"),)]]


def test_incremental_window_subtracts_the_overlap_and_ors_date_ranges() -> None:
    window = PullWindow(
        modified_since=SINCE,
        date_ranges=(
            DateRange(field="po_date", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 2)),
            DateRange(field="operational_date", start=dt.date(2026, 5, 1), end=dt.date(2026, 6, 2)),
        ),
    )
    groups = criteria_groups(window, FIELDS, overlap=dt.timedelta(minutes=5))
    assert groups == [
        (SearchFilter("hs_lastmodifieddate", "GTE", epoch_ms(SINCE - dt.timedelta(minutes=5))),),
        (
            SearchFilter("closedate", "GTE", epoch_ms(dt.date(2026, 6, 1))),
            SearchFilter("closedate", "LT", epoch_ms(dt.date(2026, 6, 2))),
        ),
        (
            SearchFilter("operational_date", "GTE", epoch_ms(dt.date(2026, 5, 1))),
            SearchFilter("operational_date", "LT", epoch_ms(dt.date(2026, 6, 2))),
        ),
    ]
    (only,) = queries(window, FIELDS, "77")
    assert len(only) == 3
    assert all(g[0] == SearchFilter("pipeline", "EQ", "77") for g in only)


def test_many_ranges_split_into_queries_within_hubspots_limits() -> None:
    ranges = tuple(
        DateRange(field="po_date", start=dt.date(2026, 1, d), end=dt.date(2026, 1, d + 1))
        for d in range(1, 11)
    )
    split = queries(PullWindow(modified_since=SINCE, date_ranges=ranges), FIELDS, "77")
    assert sum(len(q) for q in split) == 11  # every criterion kept, none twice
    for query in split:
        paged = page_groups(query, "12345")
        assert len(paged) <= MAX_GROUPS
        assert sum(len(g) for g in paged) <= MAX_FILTERS
        assert all(len(g) <= 6 for g in paged)


def test_later_pages_restart_after_the_last_id() -> None:
    query: list[Group] = [(SearchFilter("pipeline", "EQ", "77"),)]
    assert page_groups(query, None) == query
    assert page_groups(query, "9999") == [
        (SearchFilter("pipeline", "EQ", "77"), SearchFilter("hs_object_id", "GT", "9999"))
    ]


def test_the_request_sorts_on_the_unique_id_and_asks_200() -> None:
    body = search_request([(SearchFilter("pipeline", "EQ", "77"),)], ["dealname"]).to_dict()
    assert body["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    assert body["limit"] == 200
    assert body["properties"] == ["dealname"]
    assert body["filter_groups"][0]["filters"][0]["operator"] == "EQ"
