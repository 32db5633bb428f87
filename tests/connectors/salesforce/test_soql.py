"""SOQL building: quoting through format_soql, incremental windows, URI-limit splitting."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from servefirst.config.settings import SalesforceFields
from servefirst.connectors.base import DateRange, PullWindow
from servefirst.connectors.salesforce import soql
from servefirst.playbook.errors import ConfigError

FIELDS = SalesforceFields()
QUERY = soql.OpportunityQuery(FIELDS, "Executive Sponsor")


def test_select_embeds_owner_account_roles_and_playbook_tasks() -> None:
    text = QUERY.select()
    for part in ("Owner.Name", "Account.Name", "Operational_Date__c", "Playbook_Health__c"):
        assert part in text
    assert (
        "(SELECT ContactId, Role, Contact.Name, Contact.Email, Contact.Title FROM "
        "OpportunityContactRoles WHERE Role = 'Executive Sponsor')"
    ) in text
    assert (
        "(SELECT Id, ServeFirst_Key__c, Status, IsClosed, Subject, Description FROM Tasks "
        "WHERE ServeFirst_Key__c != null)"
    ) in text
    assert text.endswith("FROM Opportunity")


def test_fields_mapped_twice_are_selected_once() -> None:
    query = soql.OpportunityQuery(
        SalesforceFields(po_date="CloseDate", operational_date="closedate"), "x"
    )
    names = [n.lower() for n in query.opportunity_fields()]
    assert names.count("closedate") == 1


def test_values_are_quoted_and_escaped() -> None:
    text = soql.OpportunityQuery(FIELDS, "Sponsor' OR Name != '").roles_subquery()
    assert "Role = 'Sponsor\\' OR Name != \\''" in text


@pytest.mark.parametrize("name", ["Name; DELETE", "Foo__c)", "a b", "", "1abc"])
def test_configured_names_must_be_api_names(name: str) -> None:
    with pytest.raises(ConfigError, match="not a Salesforce API name"):
        soql.OpportunityQuery(SalesforceFields(health=name), "x").select()


def test_full_scan_has_no_where_and_a_stable_order() -> None:
    text = soql.opportunities(QUERY, soql.where_changed(FIELDS, PullWindow(), soql.DEFAULT_OVERLAP))
    assert " WHERE " not in text.rsplit(" FROM Opportunity", 1)[1]
    assert text.endswith("ORDER BY SystemModstamp, Id")


def test_incremental_window_subtracts_overlap_and_ors_date_ranges() -> None:
    window = PullWindow(
        modified_since=dt.datetime(2026, 5, 1, 12, 0, 30, 999, tzinfo=dt.UTC),
        date_ranges=(
            DateRange(field="po_date", start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 2)),
            DateRange(field="operational_date", start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 3)),
        ),
    )
    condition = soql.where_changed(FIELDS, window, dt.timedelta(minutes=5))
    assert condition == (
        "SystemModstamp >= 2026-05-01T11:55:30+00:00"
        " OR (CloseDate >= 2026-05-01 AND CloseDate < 2026-05-02)"
        " OR (Operational_Date__c >= 2026-06-01 AND Operational_Date__c < 2026-06-03)"
    )


def test_naive_watermark_is_taken_as_utc() -> None:
    window = PullWindow(modified_since=dt.datetime(2026, 5, 1, 12, 0))
    assert soql.since(window, dt.timedelta(0)) == dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_unknown_date_range_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown key-date field"):
        soql.date_range_condition(
            FIELDS, DateRange(field="amount", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 2))
        )


def test_or_ids_appends_role_changed_opportunities() -> None:
    assert soql.or_ids("A = 1", ["006A", "006B"]) == "A = 1 OR Id IN ('006A','006B')"
    assert soql.or_ids("", ["006A"]) == "Id IN ('006A')"


def _ids(n: int) -> list[str]:
    return [f"006{i:012d}AAA" for i in range(n)]


def test_split_by_uri_keeps_every_query_under_the_limit_and_loses_nothing() -> None:
    ids = _ids(3000)
    chunks = list(soql.split_by_uri(ids, lambda c: soql.by_ids(QUERY, c)))
    assert [i for chunk in chunks for i in chunk] == ids
    limit = soql.MAX_URI_BYTES - soql.URI_HEADROOM
    for chunk in chunks:
        assert soql.encoded_length(soql.by_ids(QUERY, chunk)) <= limit
    # greedy: adding the next id to any chunk but the last would cross the limit
    for chunk, following in itertools.pairwise(chunks):
        assert soql.encoded_length(soql.by_ids(QUERY, [*chunk, following[0]])) > limit
    assert len(chunks) > 1


def test_split_by_uri_small_list_is_one_chunk_and_empty_is_none() -> None:
    assert list(soql.split_by_uri(_ids(3), lambda c: soql.by_ids(QUERY, c))) == [_ids(3)]
    assert list(soql.split_by_uri([], lambda c: soql.by_ids(QUERY, c))) == []


def test_changed_roles_query() -> None:
    text = soql.changed_roles(dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    assert text == (
        "SELECT OpportunityId FROM OpportunityContactRole WHERE SystemModstamp >= "
        "2026-05-01T00:00:00+00:00 ORDER BY OpportunityId"
    )
