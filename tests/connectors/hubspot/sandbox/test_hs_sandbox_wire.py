"""Wire formats: strings everywhere, dates at midnight UTC, datetimes, validation errors."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException as ContactApiException
from hubspot.crm.deals import ApiException

MIDNIGHT_MS = str(int(dt.datetime(2025, 5, 1, tzinfo=dt.UTC).timestamp() * 1000))


def _deal(apis: Any, name: str, **props: str) -> str:
    return str(apis.deals.create({"properties": {"dealname": name, **props}}).id)


@pytest.mark.parametrize("value", ["2025-05-01", MIDNIGHT_MS, "2025-05-01T00:00:00Z"])
def test_date_properties_accept_midnight_utc_and_read_as_dates(
    apis: Any, unique: str, value: Any
) -> None:
    deal_id = _deal(apis, unique, operational_date=value)
    read = apis.deals.get_by_id(deal_id, properties=["operational_date"])
    assert read.properties["operational_date"] == "2025-05-01"


@pytest.mark.parametrize(
    "value", ["2025-05-01T10:00:00Z", str(int(MIDNIGHT_MS) + 3_600_000), "next tuesday"]
)
def test_date_properties_refuse_anything_else(apis: Any, unique: str, value: Any) -> None:
    with pytest.raises(ApiException) as caught:
        _deal(apis, unique, operational_date=value)
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert '"error":"INVALID_DATE"' in body["message"]
    assert '"name":"operational_date"' in body["message"]


def test_datetime_properties_take_any_time_and_read_iso_ms_z(apis: Any, unique: str) -> None:
    deal_id = _deal(apis, unique, closedate="2025-05-01T09:30:00+02:00")
    read = apis.deals.get_by_id(deal_id, properties=["closedate"])
    assert read.properties["closedate"] == "2025-05-01T07:30:00.000Z"


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"amount": "lots"}, "INVALID_NUMBER"),
        ({"playbook_health": "great"}, "INVALID_OPTION"),
        ({"success_confirmed": "maybe"}, "INVALID_BOOLEAN"),
        ({"not_a_property": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_lastmodifieddate": "2025-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
        ({"hubspot_owner_id": "1"}, "INVALID_OPTION"),
    ],
)
def test_invalid_values_are_400_naming_the_property(
    apis: Any, unique: str, props: Any, code: Any
) -> None:
    with pytest.raises(ApiException) as caught:
        _deal(apis, unique, **props)
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert f'"error":"{code}"' in body["message"]
    assert body["message"].startswith("Property values were not valid: ")
    assert set(body) >= {
        "status",
        "message",
        "correlationId",
        "category",
        "errors",
        "context",
        "links",
    }


def test_values_are_strings_and_booleans_normalised(apis: Any, unique: str) -> None:
    deal_id = _deal(
        apis, unique, amount="1500.50", success_confirmed="TRUE", operational_date_slips="2"
    )
    props = apis.deals.get_by_id(
        deal_id, properties=["amount", "success_confirmed", "operational_date_slips"]
    ).properties
    assert props["amount"] == "1500.50"
    assert props["success_confirmed"] == "true"
    assert props["operational_date_slips"] == "2"
    assert all(isinstance(v, str) for v in props.values())


def test_a_second_contact_with_the_same_email_is_a_409(apis: Any, unique: str) -> None:
    apis.contacts.create({"properties": {"email": f"{unique}@example.com"}})
    with pytest.raises(ContactApiException) as caught:
        apis.contacts.create({"properties": {"email": f"{unique}@example.com"}})
    assert caught.value.status == 409
