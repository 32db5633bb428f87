"""The calendar-driven pull: every engagement whose findings change between two dates is in a
range, so a daily incremental sync catches "the date passed yesterday" without a full scan."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.playbook.test_timetable import engagements

from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate, key_date_ranges
from servefirst.playbook.model import Assessment, DateRange, Engagement, Status, SuccessCriterion

T = dt.date(2026, 6, 15)  # the as-of date the engagement fixture is built around


def _in(ranges: tuple[DateRange, ...], e: Engagement) -> bool:
    for r in ranges:
        value = e.po_date if r.field == "po_date" else e.operational_date
        if value is not None and r.start <= value < r.end:
            return True
    return False


def written(assessment: Assessment) -> object:
    """Everything a sync writes to the CRM for an engagement, except a new task's due date
    (written once, when the task opens)."""
    tasks = sorted(
        (t.key, t.rule, t.subject, t.description, t.severity, t.owner_id) for t in assessment.tasks
    )
    return assessment.desired, tasks, assessment.autofill_operational_date


def test_same_day_needs_no_ranges(prime: Playbook) -> None:
    assert key_date_ranges(prime, T, T) == ()


def test_every_changed_verdict_is_covered(prime: Playbook) -> None:
    """Exhaustive over stages, statuses and dates around T: no finding change escapes."""
    previous, current = T, T + dt.timedelta(days=2)
    ranges = key_date_ranges(prime, previous, current)
    offsets = range(-120, 121, 1)
    for stage, status in [
        ("discover", Status.OPEN),
        ("diagnose", Status.OPEN),
        ("design", Status.OPEN),
        ("deliver", Status.OPEN),
        ("won", Status.WON),
    ]:
        for od_off, po_off in itertools.product(offsets, (-3, -1, 0, 1, 2, 3, 13, 35, 56, 57)):
            e = Engagement(
                id="x",
                crm="test",
                name="x",
                stage=stage,
                status=status,
                po_date=T + dt.timedelta(days=po_off),
                operational_date=T + dt.timedelta(days=od_off),
                success_criteria=(SuccessCriterion(text="a"),),
            )
            before = evaluate(e, prime, previous)
            after = evaluate(e, prime, current)
            if before.date_sensitive or _in(ranges, e):
                continue
            assert written(before) == written(after), (stage, od_off, po_off)
            assert not after.date_sensitive


def test_max_ranges_merges_into_a_superset(prime: Playbook) -> None:
    full = key_date_ranges(prime, T, T + dt.timedelta(days=1))
    capped = key_date_ranges(prime, T, T + dt.timedelta(days=1), max_ranges=3)
    assert len(capped) <= 3 < len(full)
    for r in full:
        assert any(c.field == r.field and c.start <= r.start and r.end <= c.end for c in capped)


@settings(max_examples=1500, deadline=None)
@given(
    engagements(),
    st.integers(min_value=-30, max_value=30),
    st.integers(min_value=1, max_value=40),
    st.sampled_from([None, "Operational Date until 2026-08-01: audit", "Sponsor until x: y"]),
)
def test_written_values_move_only_with_predicted_key_dates(
    prime: Playbook, engagement: Engagement, start: int, gap: int, waiver: str | None
) -> None:
    """An incremental sync leaves what a full scan would.

    For an engagement that is not ``date_sensitive`` on T1 and whose key dates lie outside
    ``key_date_ranges(T1, T2)``, every value the sync writes is the same on T2, so not pulling
    it on T2 is right. (A date-sensitive one is re-read by id every day.)
    """
    e = engagement.model_copy(update={"waiver_text": waiver})
    t1 = T + dt.timedelta(days=start)
    t2 = t1 + dt.timedelta(days=gap)
    before = evaluate(e, prime, t1, slips=1)
    if before.date_sensitive or _in(key_date_ranges(prime, t1, t2), e):
        return
    after = evaluate(e, prime, t2, slips=1)
    assert written(before) == written(after)
    assert not after.date_sensitive
