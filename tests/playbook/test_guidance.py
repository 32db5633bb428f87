"""What reps read: plain words, one task per problem, the sponsor by name or named first."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.playbook.test_timetable import T, engagements

from servefirst.playbook.definition import RULE_IDS, Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Severity, Status, task_key

DAY = dt.timedelta(days=1)
Make = Callable[..., Engagement]


@settings(max_examples=300, deadline=None)
@given(engagements(), st.integers(min_value=0, max_value=4))
def test_the_findings_field_reads_like_a_colleagues_note(
    prime: Playbook, engagement: Engagement, slips: int
) -> None:
    desired = evaluate(engagement, prime, T, slips=slips).desired
    if desired is None or desired.findings is None:
        return
    text = desired.findings
    assert not any(rule in text for rule in RULE_IDS)
    assert not re.search(r"[\[\]{}]", text)
    assert "your sponsor" not in text
    for line in text.splitlines():
        assert line.startswith(("Needs action now: ", "Worth a look: "))


def test_errors_come_first_in_words(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage="design", po_date=T - DAY, success_criteria=())
    lines = (evaluate(e, prime, T).desired.findings or "").splitlines()  # type: ignore[union-attr]
    assert lines[0].startswith("Needs action now: ")
    assert "success criteria" in lines[0]
    assert lines[1].startswith("Worth a look: ")
    assert "PO date" in lines[1]


def test_no_sponsor_means_name_one_first(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage="design", sponsors=(), success_criteria=(), operational_date=None)
    result = evaluate(e, prime, T)
    subjects = sorted(t.subject for t in result.tasks)
    assert subjects == [
        "Name the sponsor first, then agree a realistic Operational Date with the sponsor",
        "Name the sponsor first, then agree success criteria with the sponsor",
        "Name the sponsor for Tensile test automation",
    ]
    for task in result.tasks:
        assert "your sponsor" not in task.subject + task.description


def test_the_sponsor_by_name_where_known(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(success_criteria=()), prime, T)
    (task,) = result.tasks
    assert task.subject == "Agree success criteria with Dana Whitfield"
    assert "Ask Dana Whitfield to state" in task.description


def test_all_date_findings_share_one_task_whose_body_lists_the_reasons(
    prime: Playbook, engagement: Make
) -> None:
    e = engagement(stage="deliver", po_date=T - 10 * DAY, operational_date=T - DAY)
    result = evaluate(e, prime, T)
    assert {f.rule for f in result.findings} == {"operational_date_past", "po_date_past"}
    (task,) = result.tasks
    assert (task.key, task.rule, task.severity) == (
        task_key(e.id, "timetable"),
        "timetable",
        Severity.ERROR,
    )
    reasons, fix = task.description.split("\n\n")
    assert reasons.splitlines() == [f.message for f in result.findings]
    assert fix == (
        f"Agree with Dana Whitfield a PO date on or after {T.isoformat()} and an Operational "
        f"Date on or after {(T + 30 * DAY).isoformat()}, and update the engagement."
    )


def test_a_group_of_flags_only_opens_no_task(prime: Playbook, engagement: Make) -> None:
    result = evaluate(engagement(po_date=T - DAY), prime, T)
    assert [f.rule for f in result.findings] == ["po_date_past"]
    assert result.tasks == ()


def test_ungrouped_rules_keep_their_task_keys(prime: Playbook, engagement: Make) -> None:
    """Open tasks of rules outside any group keep their keys: nothing to migrate for them."""
    e = engagement(stage="design", sponsors=(), success_criteria=())
    keys = {t.key for t in evaluate(e, prime, T).tasks}
    assert keys == {task_key(e.id, "sponsor_missing"), task_key(e.id, "success_criteria_missing")}
    won = engagement(
        stage="won", status=Status.WON, po_date=T - 60 * DAY, operational_date=T - 20 * DAY
    )
    (task,) = evaluate(won, prime, T).tasks
    assert task.key == task_key(won.id, "success_unconfirmed")
    assert task.severity is Severity.WARNING


def test_a_playbook_without_groups_opens_one_task_per_rule(
    prime: Playbook, engagement: Make
) -> None:
    rules = {
        rid: r.model_copy(update={"fix": r.fix or "Fix the dates.", "task_title": "Fix dates"})
        for rid, r in prime.rules.items()
    }
    plain = prime.model_copy(update={"task_groups": {}, "rules": rules})
    e = engagement(stage="deliver", po_date=T + 30 * DAY, operational_date=T - DAY)
    keys = {t.key for t in evaluate(e, plain, T).tasks}
    assert keys == {
        task_key(e.id, "operational_date_before_po"),
        task_key(e.id, "operational_date_past"),
    }
