"""Opportunity JSON <-> neutral engagement: pure mapping rules, no server."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import SalesforceConnection, SalesforceFields
from servefirst.connectors.salesforce.mapping import (
    SalesforceMapping,
    format_datetime,
    parse_datetime,
    stage_values,
    task_rule,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import ConfigError, RecordError
from servefirst.playbook.model import DesiredTask, Health, Status, SuccessCriterion

OPP = "006000000000001AAA"


@pytest.fixture(scope="module")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


def settings(**overrides: Any) -> SalesforceConnection:
    data: dict[str, Any] = {
        "crm": "salesforce",
        "instance_url": "https://example.my.salesforce.com",
        "auth": {"method": "token", "access_token": {"env": "SF_TOKEN"}},
    }
    data.update(overrides)
    return SalesforceConnection.model_validate(data)


@pytest.fixture(scope="module")
def mapping(prime: Playbook) -> SalesforceMapping:
    return SalesforceMapping.build(settings(), prime)


def record(**overrides: Any) -> dict[str, Any]:
    """An Opportunity as the main pull query returns it."""
    rec: dict[str, Any] = {
        "attributes": {
            "type": "Opportunity",
            "url": f"/services/data/v59.0/sobjects/Opportunity/{OPP}",
        },
        "Id": OPP,
        "Name": "Tensile test automation",
        "StageName": "Design",
        "IsClosed": False,
        "IsWon": False,
        "Amount": 48000.0,
        "OwnerId": "005000000000001AAA",
        "Owner": {"attributes": {"type": "User"}, "Name": "Riley Chen"},
        "AccountId": "001000000000001AAA",
        "Account": {"attributes": {"type": "Account"}, "Name": "Acme Labs"},
        "SystemModstamp": "2026-05-01T12:30:45.123+0000",
        "CloseDate": "2026-06-30",
        "Operational_Date__c": "2026-09-15",
        "Success_Criteria__c": "- [x] setup from 40 to 10 minutes\n\n* [ ] no retests",
        "Success_Confirmed__c": False,
        "Playbook_Health__c": "At risk",
        "Playbook_Findings__c": "PO date passed",
        "Operational_Date_Slips__c": 2.0,
        "OpportunityContactRoles": {
            "totalSize": 2,
            "done": True,
            "records": [
                {
                    "ContactId": "003000000000001AAA",
                    "Role": "Executive Sponsor",
                    "Contact": {
                        "Name": "Dana Whitfield",
                        "Email": "dana@acme.test",
                        "Title": "COO",
                    },
                },
                {"ContactId": "003000000000002AAA", "Role": "Evaluator", "Contact": None},
            ],
        },
        "Tasks": {
            "totalSize": 2,
            "done": True,
            "records": [
                {
                    "Id": "00T000000000001AAA",
                    "ServeFirst_Key__c": f"servefirst:{OPP}:sponsor_missing",
                    "Status": "Not Started",
                },
                {
                    "Id": "00T000000000002AAA",
                    "ServeFirst_Key__c": "someone-elses-key",
                    "Status": "Not Started",
                },
            ],
        },
    }
    rec.update(overrides)
    return rec


def test_full_record_maps_every_neutral_field(mapping: SalesforceMapping) -> None:
    e = mapping.to_engagement(record())
    assert (e.id, e.crm, e.name) == (OPP, "salesforce", "Tensile test automation")
    assert (e.account, e.owner_id, e.owner_name) == (
        "Acme Labs",
        "005000000000001AAA",
        "Riley Chen",
    )
    assert (e.stage, e.raw_stage, e.status) == ("design", "Design", Status.OPEN)
    assert e.amount == 48000.0
    assert (e.po_date, e.operational_date) == (dt.date(2026, 6, 30), dt.date(2026, 9, 15))
    assert e.success_criteria == (
        SuccessCriterion(text="setup from 40 to 10 minutes", met=True),
        SuccessCriterion(text="no retests", met=False),
    )
    assert [s.contact_id for s in e.sponsors] == ["003000000000001AAA"]
    assert (e.sponsors[0].name, e.sponsors[0].email, e.sponsors[0].title) == (
        "Dana Whitfield",
        "dana@acme.test",
        "COO",
    )
    assert e.last_modified == dt.datetime(2026, 5, 1, 12, 30, 45, 123000, tzinfo=dt.UTC)
    assert (e.current.health, e.current.findings, e.current.slips) == (
        Health.AT_RISK,
        "PO date passed",
        2,
    )
    assert [(t.rule, t.task_id) for t in e.open_tasks] == [
        ("sponsor_missing", "00T000000000001AAA")
    ]


def test_null_children_lookups_and_fields_read_as_empty(mapping: SalesforceMapping) -> None:
    e = mapping.to_engagement(
        record(
            Owner=None,
            Account=None,
            AccountId=None,
            Amount=None,
            Operational_Date__c=None,
            Success_Criteria__c=None,
            Playbook_Health__c=None,
            Playbook_Findings__c=None,
            Operational_Date_Slips__c=None,
            OpportunityContactRoles=None,
            Tasks=None,
        )
    )
    assert (e.account, e.owner_name, e.amount, e.operational_date) == (None, None, None, None)
    assert (e.success_criteria, e.sponsors, e.open_tasks) == ((), (), ())
    assert e.current.health is None and e.current.findings is None and e.current.slips is None


@pytest.mark.parametrize(
    ("is_closed", "is_won", "stage_name", "stage", "status"),
    [
        (False, False, "Discover", "discover", Status.OPEN),
        (True, True, "Closed Won", "won", Status.WON),
        (True, False, "Closed Lost", "lost", Status.LOST),
        (False, False, "Prospecting", None, Status.OPEN),  # unmapped stays open via IsClosed
        (True, True, "Signed", None, Status.WON),  # unmapped but won: status from IsWon
        (False, False, "design", "design", Status.OPEN),  # picklist values compare caselessly
    ],
)
def test_stage_and_status(
    mapping: SalesforceMapping,
    is_closed: bool,
    is_won: bool,
    stage_name: str,
    stage: str | None,
    status: Status,
) -> None:
    e = mapping.to_engagement(record(StageName=stage_name, IsClosed=is_closed, IsWon=is_won))
    assert (e.stage, e.raw_stage, e.status) == (stage, stage_name, status)


def test_stage_map_overrides_labels(prime: Playbook) -> None:
    m = SalesforceMapping.build(
        settings(stage_map={"discover": "Prospecting", "won": "Closed Won"}), prime
    )
    assert m.stages["discover"] == "Prospecting" and m.stages["diagnose"] == "Diagnose"
    assert m.to_engagement(record(StageName="Prospecting")).stage == "discover"
    assert m.to_engagement(record(StageName="Discover")).stage is None


@pytest.mark.parametrize(
    ("stage_map", "message"),
    [
        ({"qualify": "Qualification"}, "unknown stage 'qualify'"),
        ({"discover": "Design"}, "both map to StageName"),
    ],
)
def test_bad_stage_map_is_a_config_error(
    prime: Playbook, stage_map: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        stage_values(settings(stage_map=stage_map), prime)


def test_configured_field_names_and_sponsor_role_are_used(prime: Playbook) -> None:
    fields = SalesforceFields(operational_date="Go_Live__c", health="Health__c")
    m = SalesforceMapping.build(
        settings(fields=fields.model_dump(), sponsor_role="Champion"), prime
    )
    rec = record(Go_Live__c="2027-01-01", Health__c="Off track")
    rec["OpportunityContactRoles"]["records"][1]["Role"] = "Champion"
    e = m.to_engagement(rec)
    assert e.operational_date == dt.date(2027, 1, 1)
    assert e.current.health is Health.OFF_TRACK
    assert [s.contact_id for s in e.sponsors] == ["003000000000002AAA"]
    assert e.sponsors[0].name == ""  # a role whose contact is not visible still counts


def test_unknown_health_value_reads_as_empty(mapping: SalesforceMapping) -> None:
    assert mapping.to_engagement(record(Playbook_Health__c="Green")).current.health is None


def test_unreadable_record_raises_record_error_naming_it(mapping: SalesforceMapping) -> None:
    with pytest.raises(RecordError, match=OPP) as info:
        mapping.to_engagement(record(CloseDate="30/06/2026"))
    assert info.value.crm_object == "Opportunity"


def test_write_values_use_wire_formats_and_field_names(mapping: SalesforceMapping) -> None:
    values = mapping.write_values(
        {
            "health": Health.OFF_TRACK,
            "findings": "No sponsor",
            "slips": 3,
            "operational_date": dt.date(2026, 10, 1),
        }
    )
    assert values == {
        "Playbook_Health__c": "Off track",
        "Playbook_Findings__c": "No sponsor",
        "Operational_Date_Slips__c": 3,
        "Operational_Date__c": "2026-10-01",
    }
    assert mapping.write_values({"health": None, "findings": None}) == {
        "Playbook_Health__c": None,
        "Playbook_Findings__c": None,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("stage", "design"), ("slips", 1.5), ("operational_date", "2026-10-01"), ("health", "green")],
)
def test_write_values_reject_what_servefirst_never_writes(
    mapping: SalesforceMapping, field: str, value: object
) -> None:
    with pytest.raises((ValueError, TypeError)):
        mapping.write_values({field: value})


def test_task_record_is_an_upsert_on_the_key(mapping: SalesforceMapping) -> None:
    task = DesiredTask(
        key=f"servefirst:{OPP}:sponsor_missing",
        rule="sponsor_missing",
        subject="Name your sponsor " + "x" * 300,
        description="Who is this project for?",
        due=dt.date(2026, 5, 4),
        owner_id="005000000000001AAA",
    )
    rec = mapping.task_record(OPP, task, "High")
    assert rec["ServeFirst_Key__c"] == task.key
    assert (rec["WhatId"], rec["OwnerId"], rec["ActivityDate"]) == (
        OPP,
        "005000000000001AAA",
        "2026-05-04",
    )
    assert (rec["Status"], rec["Priority"], len(rec["Subject"])) == ("Not Started", "High", 255)
    assert "OwnerId" not in mapping.task_record(
        OPP, task.model_copy(update={"owner_id": None}), "Normal"
    )


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        (f"servefirst:{OPP}:operational_date_past", "operational_date_past"),
        ("other:1:x", None),
        ("servefirst:", None),
    ],
)
def test_task_rule(key: str, rule: str | None) -> None:
    assert task_rule(key) == rule


@pytest.mark.parametrize(
    "text",
    ["2026-05-01T12:30:45.123+0000", "2026-05-01T12:30:45.123Z", "2026-05-01T14:30:45.123+02:00"],
)
def test_datetime_wire_formats(text: str) -> None:
    stamp = parse_datetime(text)
    assert stamp == dt.datetime(2026, 5, 1, 12, 30, 45, 123000, tzinfo=dt.UTC)
    assert format_datetime(stamp) == "2026-05-01T12:30:45.123+0000"
