"""SOQL through query/queryAll: projection, filters, ordering, paging and errors."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.format import format_soql

from servefirst.connectors.salesforce.sandbox import RunningSandbox, start_sandbox
from servefirst.connectors.salesforce.sandbox.testing import connect, first_error


@pytest.fixture(scope="module")
def org(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningSandbox, Any, dict[str, str]]]:
    """A small known org: five opportunities of one account, one contact role."""
    sandbox = start_sandbox(
        workdir=tmp_path_factory.mktemp("sf-query"), seed="none", stages="servefirst"
    )
    sf = connect(sandbox)
    account = sf.Account.create({"Name": "Query Co"})["id"]
    today = datetime.now(UTC).date()
    rows = [
        ("Alpha", "Discover", today, 100),
        ("beta", "Diagnose", today - timedelta(days=3), None),
        ("Gamma's", "Design", today - timedelta(days=40), 300),
        ("Delta_1", "Closed Won", today + timedelta(days=5), 400),
        ("Epsilon%", "Closed Lost", today + timedelta(days=60), 500),
    ]
    ids = {}
    for name, stage, close, amount in rows:
        body = {
            "Name": name,
            "StageName": stage,
            "CloseDate": close.isoformat(),
            "AccountId": account,
        }
        if amount is not None:
            body["Amount"] = amount
        ids[name] = sf.Opportunity.create(body)["id"]
    contact = sf.Contact.create({"FirstName": "Sam", "LastName": "Sponsor", "AccountId": account})[
        "id"
    ]
    sf.OpportunityContactRole.create(
        {"OpportunityId": ids["Alpha"], "ContactId": contact, "Role": "Executive Sponsor"}
    )
    yield sandbox, sf, ids
    sf.session.close()
    gc.collect()
    sandbox.stop()


def _names(sf: Any, where: str, *args: Any) -> list[str]:
    condition = format_soql(where, *args)
    soql = format_soql("SELECT Name FROM Opportunity WHERE {:literal} ORDER BY Name", condition)
    return [r["Name"] for r in sf.query(soql)["records"]]


def test_select_order_relationships_and_null_lookup(org: Any) -> None:
    _, sf, ids = org
    record = sf.query(
        format_soql(
            "SELECT Name, Account.Name, Owner.Email, Id FROM Opportunity WHERE Id = {}",
            ids["Alpha"],
        )
    )["records"][0]
    assert list(record) == ["attributes", "Name", "Account", "Owner", "Id"]
    assert record["Account"]["Name"] == "Query Co"
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["Owner"]["Email"] == "integration@servefirst.sandbox"
    orphan = sf.Contact.create({"LastName": "Alone"})["id"]
    alone = sf.query(format_soql("SELECT Account.Name FROM Contact WHERE Id = {}", orphan))
    assert alone["records"][0]["Account"] is None


def test_child_subquery_is_null_when_empty(org: Any) -> None:
    _, sf, ids = org
    soql = format_soql(
        "SELECT Name, (SELECT Role, Contact.Name FROM OpportunityContactRoles) FROM Opportunity "
        "WHERE Id IN {}",
        [ids["Alpha"], ids["beta"]],
    )
    records = {r["Name"]: r for r in sf.query(soql)["records"]}
    roles = records["Alpha"]["OpportunityContactRoles"]
    assert roles["totalSize"] == 1 and roles["done"] is True
    assert roles["records"][0]["Contact"]["Name"] == "Sam Sponsor"
    assert records["beta"]["OpportunityContactRoles"] is None


def test_keywords_and_names_are_case_insensitive(org: Any) -> None:
    _, sf, _ = org
    result = sf.query("select name, STAGENAME from opportunity where name = 'ALPHA'")
    assert result["records"][0]["Name"] == "Alpha"
    assert result["records"][0]["StageName"] == "Discover"


@pytest.mark.parametrize(
    ("where", "args", "expected"),
    [
        ("Name = {}", ["alpha"], ["Alpha"]),
        ("Name != {}", ["alpha"], ["beta", "Delta_1", "Epsilon%", "Gamma's"]),
        ("Name LIKE '%{:like}%'", ["ta"], ["beta", "Delta_1"]),
        ("Name LIKE {}", ["_lpha"], ["Alpha"]),
        ("Name LIKE '{:like}'", ["_lpha"], []),
        ("Name LIKE '{:like}%'", ["Delta_"], ["Delta_1"]),
        ("Name = {}", ["Gamma's"], ["Gamma's"]),
        ("StageName IN {}", [["Discover", "design"]], ["Alpha", "Gamma's"]),
        ("StageName NOT IN {}", [["Discover", "Design"]], ["beta", "Delta_1", "Epsilon%"]),
        ("Amount > {}", [250], ["Delta_1", "Epsilon%", "Gamma's"]),
        ("Amount = null", [], ["beta"]),
        ("Amount != null AND Amount <= {}", [300], ["Alpha", "Gamma's"]),
        ("(Amount = null OR Amount >= {}) AND IsClosed = false", [300], ["beta", "Gamma's"]),
        ("NOT Name LIKE {}", ["%a%"], ["Epsilon%"]),
        ("IsWon = true", [], ["Delta_1"]),
    ],
)
def test_where_operators(org: Any, where: str, args: list[Any], expected: list[str]) -> None:
    _, sf, _ = org
    assert sorted(_names(sf, where, *args), key=str.lower) == sorted(expected, key=str.lower)


def test_like_escapes_percent_written_by_format_soql(org: Any) -> None:
    _, sf, _ = org
    assert _names(sf, "Name LIKE '{:like}'", "Epsilon%") == ["Epsilon%"]
    assert _names(sf, "Name LIKE '{:like}'", "Epsilon") == []


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CloseDate = TODAY", ["Alpha"]),
        ("CloseDate = LAST_N_DAYS:3", ["Alpha", "beta"]),
        ("CloseDate < LAST_N_DAYS:30", ["Gamma's"]),
        ("CloseDate = NEXT_N_DAYS:10", ["Delta_1"]),
        ("CloseDate > NEXT_N_DAYS:10", ["Epsilon%"]),
        ("CreatedDate = TODAY", ["Alpha", "beta", "Delta_1", "Epsilon%", "Gamma's"]),
    ],
)
def test_date_literals(org: Any, where: str, expected: list[str]) -> None:
    _, sf, _ = org
    assert sorted(_names(sf, where)) == sorted(expected)


def test_date_and_datetime_literals(org: Any) -> None:
    _, sf, _ = org
    today = datetime.now(UTC).date()
    assert "Alpha" in _names(sf, "CloseDate >= {}", today)
    since = datetime.now(UTC) - timedelta(hours=1)
    assert len(_names(sf, "SystemModstamp >= {}", since)) == 5
    assert _names(sf, "SystemModstamp >= 2099-01-01T00:00:00Z") == []


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("CloseDate = '2024-01-01'", "must be of type date and should not be enclosed in quotes"),
        ("SystemModstamp > 2024-01-01", "must be of type dateTime"),
        ("IsClosed = 'true'", "must be of type boolean"),
        ("Name = 5", "must be of type string and should be enclosed in quotes"),
    ],
)
def test_filter_type_errors_are_invalid_field(org: Any, where: str, message: str) -> None:
    _, sf, _ = org
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(format_soql("SELECT Id FROM Opportunity WHERE {:literal}", where))
    error = first_error(raised.value)
    assert error["errorCode"] == "INVALID_FIELD"
    assert message in error["message"]


def test_order_by_with_nulls_first_and_last(org: Any) -> None:
    _, sf, _ = org

    def names(order: str) -> list[str]:
        soql = format_soql("SELECT Name FROM Opportunity ORDER BY {:literal}", order)
        return [r["Name"] for r in sf.query(soql)["records"]]

    assert names("Amount")[0] == "beta"
    assert names("Amount DESC")[-1] == "beta"
    assert names("Amount DESC NULLS FIRST")[0] == "beta"
    assert names("Amount ASC NULLS LAST") == ["Alpha", "Gamma's", "Delta_1", "Epsilon%", "beta"]
    assert names("Name")[:2] == ["Alpha", "beta"]


def test_limit_offset_and_count(org: Any) -> None:
    _, sf, _ = org
    page = sf.query("SELECT Name FROM Opportunity ORDER BY Name LIMIT 2 OFFSET 1")
    assert [r["Name"] for r in page["records"]] == ["beta", "Delta_1"]
    assert page["totalSize"] == 2
    counted = sf.query("SELECT COUNT() FROM Opportunity WHERE IsClosed = false")
    assert counted["totalSize"] == 3 and counted["records"] == []


@pytest.mark.parametrize(
    ("soql", "code", "needle"),
    [
        ("SELECT Id FRM Opportunity", "MALFORMED_QUERY", "ERROR at Row:1:Column:"),
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY", "unexpected token"),
        (
            "SELECT Id FROM Opportunity WHERE IsWon = true AND IsClosed = true OR Amount = 1",
            "MALFORMED_QUERY",
            "unexpected token: OR",
        ),
        ("SELECT Nope__c FROM Opportunity", "INVALID_FIELD", "No such column 'Nope__c'"),
        ("SELECT Boss.Name FROM Opportunity", "INVALID_FIELD", "Didn't understand relationship"),
        ("SELECT Id FROM Opportunityy", "INVALID_TYPE", "sObject type 'Opportunityy' is not"),
        ("SELECT (SELECT Id FROM Nopes) FROM Opportunity", "INVALID_TYPE", "relationship 'Nopes'"),
        ("SELECT Id FROM Opportunity WHERE Id = 'xyz'", "INVALID_QUERY_FILTER_OPERATOR", "xyz"),
        (
            "SELECT Id FROM Opportunity WHERE Description = 'x'",
            "INVALID_FIELD",
            "can not be filtered",
        ),
        ("SELECT Id FROM CustomField", "INVALID_TYPE", "CustomField"),
    ],
)
def test_query_errors(org: Any, soql: str, code: str, needle: str) -> None:
    _, sf, _ = org
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    error = first_error(raised.value)
    assert error["errorCode"] == code
    assert needle in error["message"]


def test_malformed_query_points_at_the_column(org: Any) -> None:
    _, sf, _ = org
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FRM Opportunity")
    assert "ERROR at Row:1:Column:11\nunexpected token: FRM" in first_error(raised.value)["message"]


def test_semi_join_finds_opportunities_by_changed_contact_roles(org: Any) -> None:
    _, sf, ids = org
    soql = format_soql(
        "SELECT Name FROM Opportunity WHERE Id IN "
        "(SELECT OpportunityId FROM OpportunityContactRole WHERE SystemModstamp >= {})",
        datetime.now(UTC) - timedelta(hours=1),
    )
    assert [r["Name"] for r in sf.query(soql)["records"]] == ["Alpha"]
    assert ids["Alpha"]


def test_paging_honours_batch_size_and_query_all(org: Any) -> None:
    sandbox, sf, _ = org
    account = sf.Account.create({"Name": "Paging Co"})["id"]
    records = [
        {"attributes": {"type": "Contact"}, "LastName": f"Page {i:03d}", "AccountId": account}
        for i in range(200)
    ]
    for _ in range(3):
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    soql = format_soql("SELECT Id, LastName FROM Contact WHERE AccountId = {} ORDER BY Id", account)
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert first["totalSize"] == 600 and first["done"] is False
    assert len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 200 and second["done"] is False
    everything = sf.query_all(soql)
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == 600 == len(set(ids)) and ids == sorted(ids)
    small = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(small["records"]) == 200  # clamped to the 200 minimum
    default = sf.query(soql)
    assert default["done"] is True and len(default["records"]) == 600
    assert sandbox


def test_bad_locator_is_invalid_query_locator(org: Any) -> None:
    _, sf, _ = org
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query_more("01gHs0000000000AAA-2000")
    assert first_error(raised.value)["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_any_api_version_is_served(org: Any) -> None:
    sandbox, _, _ = org
    old = connect(sandbox, version="52.0")
    result = old.query("SELECT Id FROM Opportunity LIMIT 1")
    assert result["records"][0]["attributes"]["url"].startswith("/services/data/v52.0/")
    old.session.close()


def test_versions_list_needs_no_token(org: Any) -> None:
    sandbox, _, _ = org
    sandbox_ca = str(sandbox.ca_bundle)
    versions = requests.get(f"{sandbox.url}/services/data/", verify=sandbox_ca, timeout=10).json()
    assert {"label", "url", "version"} <= set(versions[0])
    assert any(v["version"] == "59.0" for v in versions)


def test_stamps_order_changes_for_incremental_pulls(org: Any) -> None:
    _, sf, ids = org
    before = datetime.now(UTC) - timedelta(seconds=1)
    time.sleep(0.01)
    sf.Opportunity.update(ids["beta"], {"NextStep": "Agree success criteria"})
    soql = format_soql(
        "SELECT Id, SystemModstamp FROM Opportunity WHERE SystemModstamp >= {} "
        "ORDER BY SystemModstamp, Id",
        before,
    )
    changed = [r["Id"] for r in sf.query(soql)["records"]]
    assert changed[-1] == ids["beta"]


def test_query_all_includes_deleted_rows_with_is_deleted(org: Any) -> None:
    _, sf, _ = org
    doomed = sf.Account.create({"Name": "Doomed Co"})["id"]
    sf.Account.delete(doomed)
    soql = format_soql("SELECT Id, IsDeleted FROM Account WHERE Id = {}", doomed)
    assert sf.query(soql)["totalSize"] == 0
    assert sf.query_all(soql, include_deleted=True)["records"][0]["IsDeleted"] is True
