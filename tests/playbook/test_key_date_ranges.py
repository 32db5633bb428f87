"""The calendar-driven pull: every engagement whose findings change between two dates is in a
range, so a daily incremental sync catches "the date passed yesterday" without a full scan."""

from __future__ import annotations

import datetime as dt
import itertools

from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate, key_date_ranges
from servefirst.playbook.model import DateRange, Engagement, Status, SuccessCriterion

T = dt.date(2026, 6, 15)  # the as-of date the engagement fixture is built around


def _in(ranges: tuple[DateRange, ...], e: Engagement) -> bool:
    for r in ranges:
        value = e.po_date if r.field == "po_date" else e.operational_date
        if value is not None and r.start <= value < r.end:
            return True
    return False


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
        for od_off, po_off in itertools.product(offsets, (-3, -1, 0, 1, 2, 3)):
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
            before = {f.rule for f in evaluate(e, prime, previous).findings}
            after = {f.rule for f in evaluate(e, prime, current).findings}
            if before != after:
                assert _in(ranges, e), (stage, od_off, po_off, before ^ after)


def test_max_ranges_merges_into_a_superset(prime: Playbook) -> None:
    full = key_date_ranges(prime, T, T + dt.timedelta(days=1))
    capped = key_date_ranges(prime, T, T + dt.timedelta(days=1), max_ranges=3)
    assert len(capped) <= 3 < len(full)
    for r in full:
        assert any(c.field == r.field and c.start <= r.start and r.end <= c.end for c in capped)
