"""Seeding, stage sets, persistence, the written servefirst.toml and 18-character ids."""

from __future__ import annotations

import gc
import time
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from servefirst.config.loader import load_settings
from servefirst.config.settings import SalesforceConnection, Settings
from servefirst.connectors.salesforce.sandbox import start_sandbox
from servefirst.connectors.salesforce.sandbox.ids import checksum, to18
from servefirst.connectors.salesforce.sandbox.org import Org, OrgOptions
from servefirst.connectors.salesforce.sandbox.query import QueryService
from servefirst.connectors.salesforce.sandbox.seed import Seeder
from servefirst.connectors.salesforce.sandbox.testing import connect, first_error

DEMO_FIELDS = (
    "SELECT Name, StageName, CloseDate, Amount, Owner.Email, Account.Name, Operational_Date__c, "
    "Success_Criteria__c, Success_Confirmed__c, "
    "(SELECT Role, Contact.Email FROM OpportunityContactRoles) FROM Opportunity ORDER BY Name"
)


def test_checksum_matches_the_documented_example() -> None:
    assert checksum("001R0000005hDFY") == "IA2"
    assert to18("001R0000005hDFY") == "001R0000005hDFYIA2"
    assert to18("001R0000005hDFYIA2") == "001R0000005hDFYIA2"
    assert to18("001R0000005hDFYXXX") is None
    assert to18("001R0000005hDF") is None


def _demo_rows(today: date) -> list[dict[str, Any]]:
    org = Org(OrgOptions())
    org.bootstrap()
    Seeder(org).demo(today)
    result = QueryService().run(
        DEMO_FIELDS, org.catalog(), version="59.0", batch=2000, endpoint="query"
    )
    return list(result["records"])


def test_demo_is_deterministic_for_a_given_day() -> None:
    first, second = _demo_rows(date(2025, 3, 3)), _demo_rows(date(2025, 3, 3))
    assert first == second
    assert _demo_rows(date(2025, 3, 4)) != first


def test_demo_has_every_stage_and_a_share_of_violations(sf: Any) -> None:
    records = sf.query_all(
        "SELECT StageName, IsClosed, IsWon, CloseDate, Operational_Date__c, Success_Criteria__c, "
        "Success_Confirmed__c, (SELECT Role FROM OpportunityContactRoles) FROM Opportunity "
        "WHERE Owner.Email LIKE '%@demo.servefirst.sandbox'"
    )["records"]
    assert len(records) == 40
    stages = {r["StageName"] for r in records}
    assert stages == {"Discover", "Diagnose", "Design", "Deliver", "Closed Won", "Closed Lost"}
    today = date.today().isoformat()
    open_ = [r for r in records if not r["IsClosed"]]
    missing_od = [r for r in open_ if r["StageName"] != "Discover" and not r["Operational_Date__c"]]
    od_before_po = [
        r for r in records if r["Operational_Date__c"] and r["Operational_Date__c"] < r["CloseDate"]
    ]
    od_past = [r for r in open_ if r["Operational_Date__c"] and r["Operational_Date__c"] < today]
    no_sponsor = [
        r
        for r in open_
        if not any(
            c["Role"] == "Executive Sponsor"
            for c in (r["OpportunityContactRoles"] or {"records": []})["records"]
        )
    ]
    no_criteria = [r for r in open_ if not r["Success_Criteria__c"]]
    unconfirmed = [r for r in records if r["IsWon"] and not r["Success_Confirmed__c"]]
    for violations in (missing_od, od_before_po, od_past, no_sponsor, no_criteria, unconfirmed):
        assert 1 <= len(violations) < len(records) // 2
    owners = sf.query("SELECT COUNT() FROM User WHERE Email LIKE '%@demo.servefirst.sandbox'")
    assert owners["totalSize"] == 6


def test_seeding_makes_the_org_look_provisioned(sf: Any) -> None:
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert fields["Playbook_Health__c"]["restrictedPicklist"] is True
    assert [v["value"] for v in fields["Playbook_Health__c"]["picklistValues"]] == [
        "On track",
        "At risk",
        "Off track",
    ]
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task["ServeFirst_Key__c"]["externalId"] is True
    assert task["ServeFirst_Key__c"]["unique"] is True


def test_bench_seeding_is_fast_and_queryable(fresh: Any, fresh_sf: Any) -> None:
    started = time.perf_counter()
    counts = fresh.seed("bench", 5000)
    assert time.perf_counter() - started < 5
    assert counts["opportunities"] == 5000
    found = fresh_sf.query("SELECT COUNT() FROM Opportunity")
    assert found["totalSize"] == 5000
    page = fresh_sf.query(
        "SELECT Id, Owner.Name, (SELECT Role FROM OpportunityContactRoles) FROM Opportunity "
        "ORDER BY SystemModstamp, Id"
    )
    assert page["done"] is False and len(page["records"]) == 2000


@pytest.mark.slow
def test_bench_seeds_100000_engagements_in_well_under_a_minute(fresh: Any) -> None:
    started = time.perf_counter()
    fresh.seed("bench", 100_000)
    assert time.perf_counter() - started < 30


def test_standard_stages(tmp_path: Path) -> None:
    sandbox = start_sandbox(workdir=tmp_path, seed="demo", stages="standard")
    sf = connect(sandbox)
    try:
        stages = sf.query("SELECT MasterLabel FROM OpportunityStage ORDER BY SortOrder")["records"]
        assert [s["MasterLabel"] for s in stages][:3] == [
            "Prospecting",
            "Qualification",
            "Needs Analysis",
        ]
        used = sf.query("SELECT StageName FROM Opportunity WHERE StageName = 'Negotiation/Review'")
        assert used["totalSize"] >= 1
    finally:
        sf.session.close()
        gc.collect()
        sandbox.stop()


def test_written_config_loads_into_settings(demo: Any) -> None:
    raw = tomllib.loads(demo.config_path.read_text(encoding="utf-8"))
    settings = Settings.model_validate({**raw, "base_dir": demo.config_path.parent})
    _, connection = settings.connection(None)
    assert isinstance(connection, SalesforceConnection)
    assert connection.instance_url == demo.url
    assert connection.ca_bundle == demo.ca_bundle
    assert connection.auth.method == "token"
    assert connection.auth.access_token is not None
    token = connection.auth.access_token.reveal(demo.config_path.parent, "token")
    assert token.get_secret_value() == demo.token
    assert settings.playbook == "builtin:prime"
    assert settings.resolve_state_url().startswith("sqlite:///")


def test_written_config_loads_through_the_config_loader(demo: Any) -> None:
    settings = load_settings(demo.config_path)
    name, connection = settings.connection(None)
    assert name == "salesforce" and connection.crm == "salesforce"


def test_jwt_alternative_in_the_config_is_valid(demo: Any) -> None:
    text = demo.config_path.read_text(encoding="utf-8")
    jwt_lines = [line[2:] for line in text.splitlines() if line.startswith("# ") and " = " in line]
    auth = tomllib.loads("\n".join(jwt_lines))
    raw = tomllib.loads(text)
    raw["connections"]["salesforce"]["auth"] = {
        **auth,
        "login_url": raw["connections"]["salesforce"]["auth"]["login_url"],
    }
    settings = Settings.model_validate(raw)
    connection = settings.connections["salesforce"]
    assert isinstance(connection, SalesforceConnection)
    assert connection.auth.method == "jwt"
    assert connection.auth.private_key is not None
    assert Path(str(connection.auth.private_key.file)).exists()


def _refusal(sf: Any, record_id: str, values: dict[str, Any]) -> str:
    """The error message of a refused update (the exception dies here, with its connection)."""
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.update(record_id, values)
    return str(first_error(raised.value)["message"])


def demo_seeded_once(sf: Any) -> bool:
    """A reloaded org is not seeded again, even when asked for the demo."""
    found = sf.query("SELECT COUNT() FROM Account WHERE Name = 'Acme Tensile'")
    return bool(found["totalSize"] <= 1)


def test_persistence_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "org.db"
    first = start_sandbox(workdir=tmp_path / "a", seed="demo", data=data)
    sf = connect(first)
    try:
        record_id = sf.Opportunity.create(
            {
                "Name": "Persisted",
                "StageName": "Design",
                "CloseDate": "2031-02-03",
                "Operational_Date__c": "2031-04-05",
            }
        )["id"]
        sf.Account.delete(sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"])
        sf.toolingexecute(
            "sobjects/ValidationRule/",
            method="POST",
            data={
                "FullName": "Opportunity.No_Big_Deals",
                "Metadata": {
                    "active": True,
                    "errorConditionFormula": "Amount > 1000000",
                    "errorMessage": "Too big",
                },
            },
        )
        before = sf.query_all(DEMO_FIELDS)["records"]
    finally:
        sf.session.close()
        gc.collect()
        first.stop()
    second = start_sandbox(workdir=tmp_path / "b", seed="demo", data=data)
    sf = connect(second)
    try:
        assert sf.query_all(DEMO_FIELDS)["records"] == before
        assert sf.Opportunity.get(record_id)["Operational_Date__c"] == "2031-04-05"
        assert (
            sf.query_all("SELECT Id FROM Account WHERE IsDeleted = true", include_deleted=True)[
                "totalSize"
            ]
            == 1
        )
        again = sf.Opportunity.create(
            {"Name": "New", "StageName": "Design", "CloseDate": "2031-02-03"}
        )
        assert again["id"] != record_id
        assert _refusal(sf, again["id"], {"Amount": 2_000_000}) == "Too big"
        assert demo_seeded_once(sf)
    finally:
        sf.session.close()
        gc.collect()
        second.stop()
