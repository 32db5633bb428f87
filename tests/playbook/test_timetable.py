"""One date model: every date finding quotes one timetable, and following it clears them all."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Sponsor, Status, SuccessCriterion
from servefirst.playbook.rules import DATE_RULES
from servefirst.playbook.timetable import Anchor, build_timetable

T = dt.date(2026, 6, 15)
DAY = dt.timedelta(days=1)
Make = Callable[..., Engagement]


def test_the_contradiction_from_the_issue_is_gone(prime: Playbook, engagement: Make) -> None:
    """Deliver, PO 2026-12-21, OD 2026-12-11, seen on 2026-11-28: one date, one task.

    Before, one finding said the earliest realistic Operational Date was the PO date
    (2026-12-21) and another "earlier than 2026-12-28" (T + 30), while PO + 30 = 2027-01-20.
    """
    today = dt.date(2026, 11, 28)
    e = engagement(
        stage="deliver", po_date=dt.date(2026, 12, 21), operational_date=dt.date(2026, 12, 11)
    )
    result = evaluate(e, prime, today)
    rules = {f.rule for f in result.findings}
    assert rules == {"operational_date_before_po", "operational_date_infeasible"}
    text = result.desired.findings if result.desired else ""
    assert text is not None
    assert "2027-01-20" in text
    assert "2026-12-28" not in text
    assert text.count("\n") == 0  # one problem, one entry
    assert {f.recommended_operational_date for f in result.findings} == {dt.date(2027, 1, 20)}
    (task,) = result.tasks
    assert task.key == f"servefirst:{e.id}:timetable"
    assert task.subject == "Agree a realistic Operational Date with Dana Whitfield"
    assert task.rules == ("operational_date_before_po", "operational_date_infeasible")
    fixed = e.model_copy(update={"operational_date": dt.date(2027, 1, 20)})
    assert evaluate(fixed, prime, today).findings == ()


def test_earliest_dates_follow_the_model(prime: Playbook, engagement: Make) -> None:
    """Earliest PO = T + stages still to go; earliest OD = max(PO, that) + lead; review + 14."""
    late_po = engagement(stage="diagnose", po_date=T + 100 * DAY)
    table = build_timetable(late_po, prime, T)
    assert table.earliest_po_date == T + 35 * DAY  # design 21 + deliver 14
    assert table.earliest_operational_date == T + 130 * DAY
    assert table.anchor is Anchor.PO_DATE
    assert table.success_review == T + 200 * DAY + 14 * DAY  # the engagement's own OD
    early_po = engagement(stage="diagnose", po_date=T + 10 * DAY, operational_date=None)
    table = build_timetable(early_po, prime, T)
    assert table.earliest_operational_date == T + 65 * DAY
    assert table.anchor is Anchor.TODAY
    assert table.planned_po_date == T + 35 * DAY


def test_milestones_plan_backwards_from_a_feasible_po_date(
    prime: Playbook, engagement: Make
) -> None:
    e = engagement(stage="discover", po_date=T + 80 * DAY, operational_date=T + 110 * DAY)
    table = build_timetable(e, prime, T)
    assert [(s.key, s.ends) for s in table.stages] == [
        ("diagnose", T + 45 * DAY),
        ("design", T + 66 * DAY),
        ("deliver", T + 80 * DAY),
    ]
    # the same plan on any later day while the PO date stays feasible
    assert build_timetable(e, prime, T + 20 * DAY).stages == table.stages


def test_without_a_po_date_the_plan_hangs_from_the_operational_date(
    prime: Playbook, engagement: Make
) -> None:
    e = engagement(stage="deliver", po_date=None, operational_date=T + 90 * DAY)
    table = build_timetable(e, prime, T)
    assert table.anchor is Anchor.OPERATIONAL_DATE
    assert table.planned_po_date == T + 60 * DAY


def test_won_engagements_keep_their_own_dates(prime: Playbook, engagement: Make) -> None:
    e = engagement(
        stage="won", status=Status.WON, po_date=T - 40 * DAY, operational_date=T - 5 * DAY
    )
    table = build_timetable(e, prime, T)
    assert table.anchor is Anchor.OWN_DATES
    assert (table.planned_po_date, table.planned_operational_date) == (
        e.po_date,
        e.operational_date,
    )
    assert table.success_review == T + 9 * DAY


_offsets = st.one_of(st.none(), st.integers(min_value=-200, max_value=300))


@st.composite
def engagements(draw: st.DrawFn) -> Engagement:
    stage, status = draw(
        st.sampled_from(
            [
                ("discover", Status.OPEN),
                ("diagnose", Status.OPEN),
                ("design", Status.OPEN),
                ("deliver", Status.OPEN),
                ("won", Status.WON),
                (None, Status.OPEN),
            ]
        )
    )
    po, od = draw(_offsets), draw(_offsets)
    return Engagement(
        id="E",
        crm="test",
        name="Engagement",
        stage=stage,
        raw_stage=stage or "Negotiation",
        status=status,
        po_date=T + po * DAY if po is not None else None,
        operational_date=T + od * DAY if od is not None else None,
        success_criteria=(SuccessCriterion(text="a"),) if draw(st.booleans()) else (),
        sponsors=(Sponsor(contact_id="c", name="Dana"),) if draw(st.booleans()) else (),
    )


@settings(max_examples=600, deadline=None)
@given(engagements(), st.integers(min_value=0, max_value=3), st.booleans())
def test_setting_the_recommended_dates_clears_every_date_finding(
    prime: Playbook, engagement: Engagement, slips: int, fix_one_at_random: bool
) -> None:
    result = evaluate(engagement, prime, T, slips=slips)
    dated = [f for f in result.findings if f.rule in DATE_RULES]
    if not dated:
        return
    # every date finding recommends the same dates, and quotes them
    recommendations = {(f.recommended_po_date, f.recommended_operational_date) for f in dated}
    assert len(recommendations) == 1
    po, od = recommendations.pop()
    assert (po, od) != (None, None)
    finding = dated[-1] if fix_one_at_random else dated[0]
    for day in (po, od):
        if day is not None:
            assert day.isoformat() in finding.fix
    changes = {"po_date": po} if po else {}
    if od is not None:
        changes["operational_date"] = od
    after = evaluate(engagement.model_copy(update=changes), prime, T, slips=slips)
    assert {f.rule for f in after.findings} & DATE_RULES == set()
    assert all(t.rule != "timetable" for t in after.tasks)


@settings(max_examples=300, deadline=None)
@given(engagements())
def test_no_two_date_findings_disagree(prime: Playbook, engagement: Engagement) -> None:
    """Every date a date finding quotes as 'earliest' is the timetable's."""
    result = evaluate(engagement, prime, T)
    table = build_timetable(engagement, prime, T)
    earliest = table.earliest_operational_date
    for finding in result.findings:
        if finding.rule in DATE_RULES and "earliest" in finding.message:
            assert earliest is not None
            assert earliest.isoformat() in finding.message
