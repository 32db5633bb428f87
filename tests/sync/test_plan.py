"""The pure diffing rules: slip counting, what counts as "differs", task matching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from servefirst.playbook.model import (
    Assessment,
    DesiredTask,
    Engagement,
    Health,
    PluginFields,
    TaskRef,
)
from servefirst.sync.engine.plan import field_changes, next_slips, plan_engagement
from servefirst.sync.state import EngagementDates

D = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
Make = Callable[..., Engagement]


@pytest.mark.parametrize(
    ("last", "slips", "now_date", "expected_last", "expected_slips"),
    [
        (D, 0, D + dt.timedelta(days=1), D + dt.timedelta(days=1), 1),  # later: a slip
        (D, 1, D - dt.timedelta(days=9), D - dt.timedelta(days=9), 1),  # earlier: none
        (D, 1, D, D, 1),  # unchanged
        (D, 2, None, D, 2),  # cleared: remember the last date seen
        (None, 0, D, D, 0),  # first date ever set: not a slip
    ],
)
def test_next_slips(
    make: Make,
    last: dt.date | None,
    slips: int,
    now_date: dt.date | None,
    expected_last: dt.date | None,
    expected_slips: int,
) -> None:
    seen = EngagementDates("E", last, slips, NOW - dt.timedelta(days=30))
    after = next_slips(make("E", operational_date=now_date), seen, NOW)
    assert (after.last_operational_date, after.slips) == (expected_last, expected_slips)
    assert after.first_seen == seen.first_seen


def test_a_new_engagement_starts_from_the_crm_count(make: Make) -> None:
    first = next_slips(make("E", operational_date=D, slips=3), None, NOW)
    assert (first.last_operational_date, first.slips, first.first_seen) == (D, 3, NOW)


ON, RISK = Health.ON_TRACK, Health.AT_RISK


@pytest.mark.parametrize(
    ("current", "desired", "written"),
    [
        ((ON, "", 0), (ON, None, 0), set()),  # empty text is empty, however the CRM says it
        ((ON, "old", 0), (ON, None, 0), {"findings"}),  # no findings left: clear the text
        ((RISK, "x", 1), (RISK, "x", 1), set()),
        ((ON, None, None), (ON, None, 0), {"slips"}),  # a zero count is written once
        ((ON, None, 2), (RISK, None, 2), {"health"}),
    ],
)
def test_only_differing_fields_are_written(
    make: Make,
    current: tuple[Health, str | None, int | None],
    desired: tuple[Health, str | None, int],
    written: set[str],
) -> None:
    def fields(values: tuple[Health, str | None, int | None]) -> PluginFields:
        return PluginFields(health=values[0], findings=values[1], slips=values[2])

    engagement = make("E").model_copy(update={"current": fields(current)})
    changes = field_changes(engagement, fields(desired))
    assert {c.field for c in changes} == written
    assert all(c.before == getattr(engagement.current, c.field) for c in changes)


def test_leave_alone_means_no_field_change(make: Make) -> None:
    engagement = make("E").model_copy(update={"current": PluginFields(findings="stale")})
    assert field_changes(engagement, None) == []


def test_tasks_match_on_their_key(make: Make) -> None:
    def task(rule: str) -> DesiredTask:
        return DesiredTask(
            key=f"servefirst:E:{rule}", rule=rule, subject=rule, description="", due=D
        )

    engagement = make("E").model_copy(
        update={
            "open_tasks": (
                TaskRef(key="servefirst:E:keep", rule="keep", task_id="T1"),
                TaskRef(key="servefirst:E:gone", rule="gone", task_id="T2"),
            )
        }
    )
    assessment = Assessment(
        engagement_id="E",
        as_of=D,
        health=Health.OFF_TRACK,
        findings=(),
        desired=None,
        tasks=(task("keep"), task("new")),
    )
    plan = plan_engagement(engagement, assessment)
    assert [o.task.rule for o in plan.task_opens] == ["new"]
    assert [(c.rule, c.task_id) for c in plan.task_closes] == [("gone", "T2")]
    assert plan.update is None
