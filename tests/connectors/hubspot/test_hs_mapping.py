"""Deal <-> engagement mapping: pure, table-driven, no portal."""

from __future__ import annotations

import datetime as dt

import pytest

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.config.settings import HubSpotFields
from servefirst.connectors.hubspot.mapping import (
    DealBundle,
    PipelineInfo,
    StageInfo,
    StageMapping,
    deal_properties,
    deal_to_engagement,
    parse_date,
    parse_datetime,
    task_properties,
    to_wire,
    update_properties,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import (
    DesiredTask,
    Health,
    PluginFields,
    Severity,
    Sponsor,
    Status,
    SuccessCriterion,
)

FIELDS = HubSpotFields()
PIPELINE = PipelineInfo(
    id="77",
    label="Serve-first",
    stages=(
        StageInfo("s1", "Discover", 0, False, 0.2),
        StageInfo("s2", "Diagnose", 1, False, 0.4),
        StageInfo("s3", "design ", 2, False, 0.6),  # label matching ignores case and spaces
        StageInfo("s4", "Deliver", 3, False, 0.8),
        StageInfo("s5", "Closed Won", 4, True, 1.0),
        StageInfo("s6", "Closed Lost", 5, True, 0.0),
        StageInfo("s7", "Parked", 6, False, 0.1),
        StageInfo("s8", "Walked away", 7, True, 0.0),
    ),
)


@pytest.fixture(scope="module")
def prime() -> Playbook:
    return load_playbook_file(builtin_playbook("prime"))


@pytest.fixture(scope="module")
def mapping(prime: Playbook) -> StageMapping:
    return StageMapping.build(PIPELINE, prime, {})


def _deal(**props: str | None) -> DealBundle:
    base: dict[str, str | None] = {
        "dealname": "Tensile test automation",
        "pipeline": "77",
        "dealstage": "s3",
        "amount": "1500.5",
        "hubspot_owner_id": "64492917",
        "closedate": "2026-07-01T00:00:00.000Z",
        "operational_date": "2026-09-15",
        "success_criteria": "- [x] Setup from 40 to 10 minutes\n\n* Fewer retests",
        "success_confirmed": "false",
        "playbook_health": "at_risk",
        "playbook_findings": "PO date passed",
        "operational_date_slips": "2",
        "hs_lastmodifieddate": "2026-06-01T10:11:12.345Z",
    }
    base.update(props)
    return DealBundle(
        id="512",
        properties=base,
        sponsors=(Sponsor(contact_id="101", name="Dana Whitfield", role="Sponsor"),),
        account="Acme Labs",
        owner_name="Sam Seller",
        tasks=(
            (
                "9001",
                {
                    "servefirst_task_key": "servefirst:512:sponsor_missing",
                    "hs_task_status": "NOT_STARTED",
                },
            ),
            (
                "9002",
                {
                    "servefirst_task_key": "servefirst:512:po_date_past",
                    "hs_task_status": "COMPLETED",
                },
            ),
            ("9003", {"servefirst_task_key": None, "hs_task_status": "NOT_STARTED"}),
        ),
    )


def test_a_deal_maps_to_a_full_engagement(mapping: StageMapping) -> None:
    engagement = deal_to_engagement(_deal(), mapping, FIELDS)
    assert engagement is not None
    assert (engagement.id, engagement.crm, engagement.name) == (
        "512",
        "hubspot",
        "Tensile test automation",
    )
    assert (engagement.stage, engagement.raw_stage, engagement.status) == (
        "design",
        "design ",
        Status.OPEN,
    )
    assert engagement.amount == 1500.5
    assert engagement.po_date == dt.date(2026, 7, 1)
    assert engagement.operational_date == dt.date(2026, 9, 15)
    assert engagement.success_criteria == (
        SuccessCriterion(text="Setup from 40 to 10 minutes", met=True),
        SuccessCriterion(text="Fewer retests", met=False),
    )
    assert engagement.success_confirmed is False
    assert engagement.account == "Acme Labs"
    assert (engagement.owner_id, engagement.owner_name) == ("64492917", "Sam Seller")
    assert [s.contact_id for s in engagement.sponsors] == ["101"]
    assert engagement.last_modified == dt.datetime(2026, 6, 1, 10, 11, 12, 345000, tzinfo=dt.UTC)
    assert engagement.current.health is Health.AT_RISK
    assert (engagement.current.findings, engagement.current.slips) == ("PO date passed", 2)
    # Only keyed, not completed tasks are open playbook tasks.
    assert [(t.key, t.rule, t.task_id) for t in engagement.open_tasks] == [
        ("servefirst:512:sponsor_missing", "sponsor_missing", "9001")
    ]


@pytest.mark.parametrize(
    ("stage_id", "key", "status", "raw"),
    [
        ("s1", "discover", Status.OPEN, "Discover"),
        ("s5", "won", Status.WON, "Closed Won"),  # closed stages keep their playbook key
        ("s6", "lost", Status.LOST, "Closed Lost"),
        ("s7", None, Status.OPEN, "Parked"),  # unmapped, open per its metadata
        ("s8", None, Status.LOST, "Walked away"),  # unmapped, closed and not won
        ("gone", None, Status.OPEN, "gone"),  # a stage id the pipeline no longer has
    ],
)
def test_stage_and_status_come_from_labels_and_metadata(
    mapping: StageMapping, stage_id: str, key: str | None, status: Status, raw: str
) -> None:
    engagement = deal_to_engagement(_deal(dealstage=stage_id), mapping, FIELDS)
    assert engagement is not None
    assert (engagement.stage, engagement.status, engagement.raw_stage) == (key, status, raw)


def test_stage_map_maps_onto_existing_labels(prime: Playbook) -> None:
    mapping = StageMapping.build(PIPELINE, prime, {"deliver": "Parked", "lost": "Walked away"})
    assert mapping.key_by_stage["s7"] == "deliver"
    assert mapping.key_by_stage["s8"] == "lost"
    assert "s4" not in mapping.key_by_stage
    assert mapping.missing_keys(prime) == []


def test_deals_outside_the_pipeline_are_ignored(mapping: StageMapping) -> None:
    assert deal_to_engagement(_deal(pipeline="default"), mapping, FIELDS) is None


def test_empty_and_foreign_values_read_as_empty(mapping: StageMapping) -> None:
    engagement = deal_to_engagement(
        _deal(
            amount=None,
            closedate="",
            operational_date="not a date",
            success_criteria=None,
            playbook_health="green",  # not one of ours: the engine will rewrite it
            playbook_findings="  ",
            operational_date_slips=None,
            success_confirmed="true",
        ),
        mapping,
        FIELDS,
    )
    assert engagement is not None
    assert engagement.amount is None
    assert (engagement.po_date, engagement.operational_date) == (None, None)
    assert engagement.success_criteria == ()
    assert engagement.current == PluginFields()
    assert engagement.success_confirmed is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-09-15", dt.date(2026, 9, 15)),
        ("1789430400000", dt.date(2026, 9, 15)),  # epoch ms at midnight UTC
        ("2026-09-15T23:30:00Z", dt.date(2026, 9, 15)),
        ("2026-09-15T23:30:00.000+00:00", dt.date(2026, 9, 15)),
        ("", None),
        (None, None),
        ("2026-13-01", None),
    ],
)
def test_dates_parse_in_every_wire_form(raw: str | None, expected: dt.date | None) -> None:
    assert parse_date(raw) == expected


def test_datetimes_are_aware_utc() -> None:
    assert parse_datetime("2026-06-01T10:00:00.000Z") == dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
    assert parse_datetime("garbage") is None


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (None, ""),
        (Health.OFF_TRACK, "off_track"),
        ("on_track", "on_track"),
        (3, "3"),
        (3.0, "3"),
        (True, "true"),
        (dt.date(2026, 9, 15), "2026-09-15"),
        (dt.datetime(2026, 9, 15, 23, 0, tzinfo=dt.UTC), "2026-09-15"),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_every_value_is_a_string_on_the_wire(value: object, wire: str) -> None:
    assert to_wire(value) == wire


def test_updates_use_the_configured_property_names() -> None:
    fields = HubSpotFields(health="sf_health", slips="sf_slips")
    props = update_properties(
        {
            "health": Health.ON_TRACK,
            "slips": 0,
            "findings": None,
            "operational_date": dt.date(2026, 1, 2),
        },
        fields,
    )
    assert props == {
        "sf_health": "on_track",
        "sf_slips": "0",
        "playbook_findings": "",
        "operational_date": "2026-01-02",
    }
    with pytest.raises(ValueError, match="never writes"):
        update_properties({"stage": "design"}, fields)


def test_deal_properties_read_every_mapped_field_but_not_the_task_key() -> None:
    names = deal_properties(FIELDS)
    assert {
        "dealname",
        "dealstage",
        "pipeline",
        "closedate",
        "operational_date",
        "playbook_health",
    } <= set(names)
    assert "servefirst_task_key" not in names
    assert len(names) == len(set(names))


def test_task_properties_carry_key_owner_and_due_time() -> None:
    task = DesiredTask(
        key="servefirst:512:sponsor_missing",
        rule="sponsor_missing",
        subject="Name the sponsor",
        description="Who owns the problem?",
        due=dt.date(2026, 6, 18),
    )
    props = task_properties(task, owner_id="64492917", key_property="servefirst_task_key")
    assert props["servefirst_task_key"] == "servefirst:512:sponsor_missing"
    assert props["hubspot_owner_id"] == "64492917"
    assert props["hs_timestamp"] == "2026-06-18T12:00:00.000Z"
    assert props["hs_task_status"] == "NOT_STARTED"
    assert all(isinstance(v, str) for v in props.values())
    named = task.model_copy(update={"owner_id": "7"})
    assert task_properties(named, owner_id="64492917", key_property="k")["hubspot_owner_id"] == "7"


def test_task_priority_follows_the_severity_of_its_findings() -> None:
    task = DesiredTask(
        key="servefirst:512:timetable",
        rule="timetable",
        subject="Agree a realistic Operational Date",
        description="Why.",
        due=dt.date(2026, 6, 18),
        severity=Severity.ERROR,
    )
    assert task_properties(task, owner_id=None, key_property="k")["hs_task_priority"] == "HIGH"
    warning = task.model_copy(update={"severity": Severity.WARNING})
    assert task_properties(warning, owner_id=None, key_property="k")["hs_task_priority"] == "MEDIUM"
