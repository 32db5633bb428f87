"""Waivers: a manager's line in one CRM field waives a finding until a date, for a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from servefirst.connectors.base import who_may_waive
from servefirst.playbook.definition import Playbook, WaiverPolicy
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Health
from servefirst.playbook.waivers import parse_waivers

T = dt.date(2026, 6, 15)
DAY = dt.timedelta(days=1)
Make = Callable[..., Engagement]


@pytest.mark.parametrize(
    ("line", "target"),
    [
        ("Operational Date until 2026-09-30: audit freeze", "timetable"),
        ("operational date UNTIL 2026-09-30 - audit freeze", "timetable"),
        ("- timetable until 2026-09-30, audit freeze", "timetable"),
        ("po_date_past until 2026-9-30: budget signed, PO paperwork only", "po_date_past"),
        ("PO date passed until 2026-09-30: budget signed", "po_date_past"),
        (
            "* Sponsor until 2026-09-30 \u2014 the reorganisation names one in July",
            "sponsor_missing",
        ),
    ],
)
def test_a_waiver_names_a_rule_or_group_as_reps_see_it(
    prime: Playbook, line: str, target: str
) -> None:
    sheet = parse_waivers(f"\n{line}\n\n", prime)
    assert sheet.problems == ()
    (waiver,) = sheet.waivers
    assert (waiver.line, waiver.target, waiver.until) == (2, target, dt.date(2026, 9, 30))
    assert waiver.reason


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("waive everything", "is not understood: write each waiver as: NAME until YYYY-MM-DD"),
        ("Sponsr until 2026-09-30: typo", "names \u201cSponsr\u201d, which the playbook does not"),
        ("Sponsor until 30/09/2026: reorg", "\u201c30/09/2026\u201d is not a date"),
        ("Sponsor until 2026-02-30: reorg", "\u201c2026-02-30\u201d is not a date"),
        ("Sponsor until 2026-09-30", "does not say why"),
    ],
)
def test_bad_lines_are_reported_plainly_and_waive_nothing(
    prime: Playbook, line: str, says: str
) -> None:
    sheet = parse_waivers(f"Operational Date until 2026-09-30: freeze\n{line}", prime)
    assert [w.target for w in sheet.waivers] == ["timetable"]
    (problem,) = sheet.problems
    assert problem.startswith("Waiver line 2 ")
    assert says in problem


def _late(engagement: Make, waiver: str | None) -> Engagement:
    return engagement(
        stage="deliver", po_date=T - 10 * DAY, operational_date=T - DAY, waiver_text=waiver
    )


def test_a_waived_finding_opens_no_task_and_reads_as_waived(
    prime: Playbook, engagement: Make
) -> None:
    e = _late(engagement, "Operational Date until 2026-07-31: customer audit freeze")
    result = evaluate(e, prime, T)
    assert result.findings == ()
    assert result.tasks == ()
    assert result.health is Health.ON_TRACK
    assert {w.finding.rule for w in result.waived} == {"operational_date_past", "po_date_past"}
    assert {(w.until, w.reason) for w in result.waived} == {
        (dt.date(2026, 7, 31), "customer audit freeze")
    }
    text = result.desired.findings if result.desired else None
    assert text is not None
    (line,) = text.splitlines()
    assert line.startswith("Waived until 2026-07-31: The Operational Date")
    assert line.endswith("Reason given: customer audit freeze.")
    assert result.date_sensitive  # the waiver ends on a day no key date predicts


def test_waiving_one_rule_leaves_the_rest_of_its_group(prime: Playbook, engagement: Make) -> None:
    e = _late(engagement, "PO date passed until 2026-07-31: PO paperwork only")
    result = evaluate(e, prime, T)
    assert [f.rule for f in result.findings] == ["operational_date_past"]
    (task,) = result.tasks
    assert task.rules == ("operational_date_past",)
    lines = (result.desired.findings or "").splitlines()  # type: ignore[union-attr]
    assert lines[0].startswith("Needs action now: The Operational Date")
    assert lines[1].startswith("Waived until 2026-07-31: The expected PO date")


@pytest.mark.parametrize(
    ("until", "remark"),
    [
        ("2026-06-14", "The waiver of this ended on 2026-06-14."),
        (
            "2026-12-31",
            "The waiver until 2026-12-31 does not apply: a waiver may run at most 90 days ahead.",
        ),
    ],
)
def test_a_waiver_past_its_date_or_too_long_does_not_apply_and_says_so(
    prime: Playbook, engagement: Make, until: str, remark: str
) -> None:
    e = _late(engagement, f"Operational Date until {until}: audit")
    result = evaluate(e, prime, T)
    assert result.waived == ()
    assert [t.rule for t in result.tasks] == ["timetable"]
    text = result.desired.findings if result.desired else ""
    assert text is not None
    assert text.startswith("Needs action now: ")
    assert text.endswith(remark)


def test_a_waiver_applies_up_to_and_including_its_date(prime: Playbook, engagement: Make) -> None:
    e = _late(engagement, "Operational Date until 2026-07-31: audit")
    assert evaluate(e, prime, dt.date(2026, 7, 31)).waived
    assert not evaluate(e, prime, dt.date(2026, 8, 1)).waived


def test_unusable_lines_show_in_the_findings_field(prime: Playbook, engagement: Make) -> None:
    e = _late(engagement, "Operational Date until soon: audit")
    result = evaluate(e, prime, T)
    assert result.waiver_problems == (
        "Waiver line 1 \u201cOperational Date until soon: audit\u201d: \u201csoon\u201d is not "
        "a date; write it as YYYY-MM-DD.",
    )
    text = result.desired.findings if result.desired else ""
    assert text is not None
    assert text.splitlines()[-1] == result.waiver_problems[0]


def test_the_playbook_names_who_may_waive_for_provisioning(prime: Playbook) -> None:
    assert who_may_waive(prime) == "Sales Manager"
    tuned = prime.model_copy(update={"waivers": WaiverPolicy(who_may_waive="Head of Sales")})
    assert who_may_waive(tuned) == "Head of Sales"
