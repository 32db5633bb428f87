"""Every rule of playbook.md at its boundaries: the day before, of and after each threshold,
each stage, and open / won / lost engagements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from servefirst.playbook.definition import RULE_IDS, Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Health, Severity, Status
from servefirst.playbook.rules import RULES

T = dt.date(2026, 6, 15)  # the as-of date the engagement fixture is built around

Make = Callable[..., Engagement]
DAY = dt.timedelta(days=1)


def fired(
    playbook: Playbook, engagement: Engagement, as_of: dt.date = T, slips: int = 0
) -> set[str]:
    return {f.rule for f in evaluate(engagement, playbook, as_of, slips=slips).findings}


def test_every_documented_rule_is_implemented_and_bundled(prime: Playbook) -> None:
    assert set(RULES) == set(RULE_IDS)
    assert set(prime.rules) == set(RULE_IDS)


def test_healthy_engagement_is_on_track(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(), prime, T)
    assert result.findings == ()
    assert result.health is Health.ON_TRACK
    assert result.desired is not None
    assert result.desired.findings is None
    assert result.tasks == ()


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("discover", False), ("diagnose", True), ("design", True), ("deliver", True)],
)
def test_sponsor_missing_from_diagnose(
    prime: Playbook, engagement: Make, stage: str, expected: bool
) -> None:
    assert ("sponsor_missing" in fired(prime, engagement(stage=stage, sponsors=()))) is expected


@pytest.mark.parametrize("status", [Status.WON, Status.LOST])
def test_sponsor_missing_only_while_open(prime: Playbook, engagement: Make, status: Status) -> None:
    assert "sponsor_missing" not in fired(prime, engagement(status=status, sponsors=()))


@pytest.mark.parametrize(
    ("stage", "expected"),
    [("discover", False), ("diagnose", False), ("design", True), ("deliver", True)],
)
def test_success_criteria_missing_from_design(
    prime: Playbook, engagement: Make, stage: str, expected: bool
) -> None:
    found = fired(prime, engagement(stage=stage, success_criteria=()))
    assert ("success_criteria_missing" in found) is expected


@pytest.mark.parametrize(
    ("stage", "status", "expected"),
    [
        ("discover", Status.OPEN, False),
        ("diagnose", Status.OPEN, True),
        ("design", Status.OPEN, True),
        ("deliver", Status.OPEN, True),
        ("won", Status.WON, True),
        ("lost", Status.LOST, False),
        (None, Status.OPEN, False),
    ],
)
def test_operational_date_missing(
    prime: Playbook, engagement: Make, stage: str | None, status: Status, expected: bool
) -> None:
    found = fired(prime, engagement(stage=stage, status=status, operational_date=None))
    assert ("operational_date_missing" in found) is expected


@pytest.mark.parametrize(("offset", "expected"), [(-1, True), (0, False), (1, False)])
def test_operational_date_before_po_boundary(
    prime: Playbook, engagement: Make, offset: int, expected: bool
) -> None:
    po = T + dt.timedelta(days=100)
    e = engagement(po_date=po, operational_date=po + dt.timedelta(days=offset))
    assert ("operational_date_before_po" in fired(prime, e)) is expected


def test_operational_date_before_po_honours_min_days(prime: Playbook, engagement: Make) -> None:
    rule = prime.rules["operational_date_before_po"].model_copy(update={"min_days_after_po": 30})
    tuned = prime.model_copy(update={"rules": {**prime.rules, "operational_date_before_po": rule}})
    po = T + dt.timedelta(days=100)
    assert "operational_date_before_po" in fired(
        tuned, engagement(po_date=po, operational_date=po + 29 * DAY)
    )
    assert "operational_date_before_po" not in fired(
        tuned, engagement(po_date=po, operational_date=po + 30 * DAY)
    )


@pytest.mark.parametrize(("offset", "expected"), [(-1, True), (0, False), (1, False)])
def test_operational_date_past_boundary(
    prime: Playbook, engagement: Make, offset: int, expected: bool
) -> None:
    e = engagement(
        po_date=T - 90 * DAY, operational_date=T + dt.timedelta(days=offset), stage="deliver"
    )
    assert ("operational_date_past" in fired(prime, e)) is expected


def test_operational_date_past_only_while_open(prime: Playbook, engagement: Make) -> None:
    e = engagement(status=Status.WON, stage="won", operational_date=T - DAY, success_confirmed=True)
    assert "operational_date_past" not in fired(prime, e)


@pytest.mark.parametrize(("offset", "expected"), [(-1, True), (0, False), (1, False)])
def test_po_date_past_boundary(
    prime: Playbook, engagement: Make, offset: int, expected: bool
) -> None:
    e = engagement(po_date=T + dt.timedelta(days=offset))
    assert ("po_date_past" in fired(prime, e)) is expected


def test_po_date_past_is_a_warning_flag(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(po_date=T - DAY), prime, T)
    assert result.health is Health.AT_RISK
    assert result.tasks == ()
    assert [f.severity for f in result.findings] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("stage", "needed"),
    [
        ("discover", 21 + 21 + 14 + 30),
        ("diagnose", 21 + 14 + 30),
        ("design", 14 + 30),
        ("deliver", 30),
    ],
)
def test_operational_date_infeasible_boundaries_per_stage(
    prime: Playbook, engagement: Make, stage: str, needed: int
) -> None:
    def check(od: dt.date) -> bool:
        e = engagement(stage=stage, po_date=T, operational_date=od)
        return "operational_date_infeasible" in fired(prime, e)

    earliest = T + dt.timedelta(days=needed)
    assert check(earliest - DAY)
    assert not check(earliest)
    assert not check(earliest + DAY)
    assert check(T)  # due today: T <= OD holds
    assert not check(T - DAY)  # already past: that is operational_date_past's job


def test_operational_date_infeasible_quotes_the_timetable(
    prime: Playbook, engagement: Make
) -> None:
    result = evaluate(
        engagement(stage="deliver", po_date=T, operational_date=T + 10 * DAY), prime, T
    )
    (finding,) = [f for f in result.findings if f.rule == "operational_date_infeasible"]
    assert "30 days from the order" in finding.message
    assert (T + 30 * DAY).isoformat() in finding.message


@pytest.mark.parametrize(("offset", "expected"), [(13, False), (14, False), (15, True)])
def test_success_unconfirmed_after_confirm_window(
    prime: Playbook, engagement: Make, offset: int, expected: bool
) -> None:
    od = T - dt.timedelta(days=offset)
    e = engagement(status=Status.WON, stage="won", po_date=od - 40 * DAY, operational_date=od)
    assert ("success_unconfirmed" in fired(prime, e)) is expected


def test_success_unconfirmed_not_when_confirmed_or_open(prime: Playbook, engagement: Make) -> None:
    od = T - 60 * DAY
    confirmed = engagement(
        status=Status.WON,
        stage="won",
        po_date=od - 40 * DAY,
        operational_date=od,
        success_confirmed=True,
    )
    still_open = engagement(stage="deliver", po_date=od - 40 * DAY, operational_date=od)
    assert "success_unconfirmed" not in fired(prime, confirmed)
    assert "success_unconfirmed" not in fired(prime, still_open)


@pytest.mark.parametrize(("slips", "expected"), [(1, False), (2, False), (3, True)])
def test_operational_date_slipped_beyond_max(
    prime: Playbook, engagement: Make, slips: int, expected: bool
) -> None:
    assert ("operational_date_slipped" in fired(prime, engagement(), slips=slips)) is expected


def test_stage_unmapped_flags_but_skips_stage_rules(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage=None, raw_stage="Negotiation/Review", sponsors=(), success_criteria=())
    found = fired(prime, e)
    assert found == {"stage_unmapped"}
    (finding,) = evaluate(e, prime, T).findings
    assert "Negotiation/Review" in finding.message


def test_closed_lost_is_not_evaluated(prime: Playbook, engagement: Make) -> None:
    e = engagement(
        status=Status.LOST, stage="lost", operational_date=None, sponsors=(), po_date=T - 9 * DAY
    )
    result = evaluate(e, prime, T)
    assert result.findings == ()
    assert result.desired is None
    assert result.tasks == ()
    assert result.health is None


def test_task_rules_yield_one_keyed_task_due_in_days(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage="diagnose", sponsors=(), operational_date=None)
    result = evaluate(e, prime, T)
    assert result.health is Health.OFF_TRACK
    keys = {t.rule: t.key for t in result.tasks}
    assert set(keys) == {"sponsor_missing", "timetable"}
    assert keys["sponsor_missing"] == f"servefirst:{e.id}:sponsor_missing"
    assert keys["timetable"] == f"servefirst:{e.id}:timetable"
    assert all(t.due == T + 3 * DAY and t.owner_id == e.owner_id for t in result.tasks)
    subjects = {t.subject for t in result.tasks}
    assert "Name the sponsor first, then agree a realistic Operational Date with the sponsor" in (
        subjects
    )


def test_task_title_names_the_sponsor(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(operational_date=None), prime, T)
    assert [t.subject for t in result.tasks] == [
        "Agree a realistic Operational Date with Dana Whitfield"
    ]


def test_disabled_rule_never_fires(prime: Playbook, engagement: Make) -> None:
    rule = prime.rules["po_date_past"].model_copy(update={"enabled": False})
    tuned = prime.model_copy(update={"rules": {**prime.rules, "po_date_past": rule}})
    assert "po_date_past" not in fired(tuned, engagement(po_date=T - DAY))


@pytest.mark.parametrize(("po_offset", "expected"), [(30, 60), (10, 14 + 30)])
def test_autofill_proposes_the_earliest_realistic_date_and_clears_the_finding(
    prime: Playbook, engagement: Make, po_offset: int, expected: int
) -> None:
    """PO + lead where the PO date is realistic; from the stages still to go where it is not."""
    rule = prime.rules["operational_date_missing"].model_copy(update={"autofill": True})
    tuned = prime.model_copy(update={"rules": {**prime.rules, "operational_date_missing": rule}})
    e = engagement(operational_date=None, po_date=T + po_offset * DAY)
    result = evaluate(e, tuned, T)
    assert result.autofill_operational_date == T + expected * DAY
    assert result.findings == ()


def test_autofill_is_off_by_default(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(operational_date=None), prime, T)
    assert result.autofill_operational_date is None


def test_findings_text_is_deterministic_and_dateless(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage="diagnose", sponsors=(), po_date=T - DAY)
    first = evaluate(e, prime, T).desired
    again = evaluate(e, prime, T).desired
    assert first == again
    assert first is not None and first.findings is not None
    lines = first.findings.splitlines()
    assert lines[0].startswith("Needs action now: ")  # errors first
    assert lines[-1].startswith("Worth a look: ")
    assert T.isoformat() not in first.findings
