"""Planning playbook tasks: reword in place, reopen what a rep dismissed, never two per key."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from servefirst.connectors.base import TASK_SUBJECT_MAX
from servefirst.playbook.model import DesiredTask, Engagement, TaskRef
from servefirst.sync.engine.tasks import REOPEN_NOTE, plan_tasks, reopened

DUE = dt.date(2026, 12, 4)


def _want(
    rule: str, subject: str = "Agree the Operational Date", body: str = "Why."
) -> DesiredTask:
    return DesiredTask(
        key=f"servefirst:e1:{rule}", rule=rule, subject=subject, description=body, due=DUE
    )


def _ref(
    rule: str,
    task_id: str,
    subject: str | None = "Agree the Operational Date",
    body: str | None = "Why.",
) -> TaskRef:
    return TaskRef(
        key=f"servefirst:e1:{rule}", rule=rule, task_id=task_id, subject=subject, description=body
    )


def _engagement(
    open_tasks: tuple[TaskRef, ...] = (), completed: tuple[TaskRef, ...] = ()
) -> Engagement:
    return Engagement(
        id="e1", crm="test", name="Acme", open_tasks=open_tasks, completed_tasks=completed
    )


def test_an_open_task_saying_what_the_playbook_says_is_left_alone() -> None:
    plan = plan_tasks(_engagement((_ref("timing", "t1"),)), (_want("timing"),))
    assert plan == type(plan)()


def test_a_changed_title_or_wording_is_written_into_the_open_task() -> None:
    engagement = _engagement((_ref("timing", "t1", subject="Fix the timetable", body="Old."),))
    plan = plan_tasks(engagement, (_want("timing", body="New reasons."),))
    assert plan.opens == () and plan.closes == ()
    (update,) = plan.updates
    assert (update.task_id, update.subject, update.description) == (
        "t1",
        "Agree the Operational Date",
        "New reasons.",
    )
    assert (update.before_subject, update.before_description) == ("Fix the timetable", "Old.")


def test_line_endings_and_trailing_blanks_the_crm_adds_are_no_difference() -> None:
    engagement = _engagement((_ref("timing", "t1", body="Line one.\r\nLine two.\n"),))
    assert plan_tasks(engagement, (_want("timing", body="Line one.\nLine two."),)).updates == ()


def test_a_task_whose_text_was_not_read_is_not_rewritten() -> None:
    engagement = _engagement((_ref("timing", "t1", subject=None, body=None),))
    assert plan_tasks(engagement, (_want("timing", subject="Anything"),)).updates == ()


def test_a_long_title_is_compared_as_the_crm_can_hold_it() -> None:
    long = "Agree " + "a realistic date " * 30
    engagement = _engagement((_ref("timing", "t1", subject=long[:TASK_SUBJECT_MAX]),))
    assert plan_tasks(engagement, (_want("timing", subject=long),)).updates == ()


def test_a_task_completed_while_its_problem_persists_is_reopened_with_why() -> None:
    done = _ref("timing", "t9")
    plan = plan_tasks(_engagement(completed=(done,)), (_want("timing"),))
    (reopen,) = plan.opens
    assert reopen.reopen_task_id == "t9"
    assert reopen.task.description == reopened("Why.")
    assert reopen.task.description.startswith(REOPEN_NOTE)
    assert "[" not in REOPEN_NOTE and "timing" not in REOPEN_NOTE


def test_a_reopened_task_keeps_its_line_and_is_not_rewritten_next_time() -> None:
    engagement = _engagement((_ref("timing", "t9", body=reopened("Why.")),))
    assert plan_tasks(engagement, (_want("timing"),)).updates == ()
    reworded = plan_tasks(engagement, (_want("timing", body="Other reasons."),)).updates
    assert [u.description for u in reworded] == [reopened("Other reasons.")]


def test_a_completed_task_whose_problem_is_gone_stays_closed() -> None:
    plan = plan_tasks(_engagement(completed=(_ref("timing", "t9"),)), ())
    assert plan == type(plan)()


def test_rules_now_sharing_a_task_close_their_old_tasks_and_open_one() -> None:
    old = (_ref("operational_date_past", "t1"), _ref("operational_date_before_po", "t2"))
    plan = plan_tasks(_engagement(old), (_want("operational_date"),))
    assert sorted(c.task_id for c in plan.closes) == ["t1", "t2"]
    assert [o.task.key for o in plan.opens] == ["servefirst:e1:operational_date"]


def test_reopens_come_before_creates() -> None:
    plan = plan_tasks(
        _engagement(completed=(_ref("b", "t2"),)), (_want("a"), _want("b"), _want("c"))
    )
    assert [(o.task.rule, o.reopen_task_id) for o in plan.opens] == [
        ("b", "t2"),
        ("a", None),
        ("c", None),
    ]


RULES = st.sampled_from(["a", "b", "c", "d"])


@given(
    open_rules=st.lists(RULES, max_size=6),
    done_rules=st.lists(RULES, max_size=4, unique=True),
    wanted_rules=st.lists(RULES, max_size=4, unique=True),
)
def test_after_the_plan_each_wanted_key_has_exactly_one_open_task_and_no_other_is_open(
    open_rules: list[str], done_rules: list[str], wanted_rules: list[str]
) -> None:
    open_refs = tuple(_ref(r, f"open-{i}") for i, r in enumerate(open_rules))
    done_refs = tuple(_ref(r, f"done-{r}") for r in done_rules)
    plan = plan_tasks(_engagement(open_refs, done_refs), tuple(_want(r) for r in wanted_rules))
    closed = {c.task_id for c in plan.closes}
    still_open = [ref.key for ref in open_refs if ref.task_id not in closed]
    now_open = still_open + [o.task.key for o in plan.opens]
    assert sorted(now_open) == sorted(f"servefirst:e1:{r}" for r in wanted_rules)
    reopened_ids = [o.reopen_task_id for o in plan.opens if o.reopen_task_id]
    assert all(i.startswith("done-") for i in reopened_ids)
