"""The success-criteria checklist: forgiving to parse, canonical to render, round-trip safe."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from servefirst.playbook.checklist import parse_checklist, render_checklist
from servefirst.playbook.model import SuccessCriterion

_text = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=60,
    )
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
_criteria = st.lists(st.builds(SuccessCriterion, text=_text, met=st.booleans()), max_size=8)


@given(_criteria)
def test_render_then_parse_round_trips(criteria: list[SuccessCriterion]) -> None:
    assert parse_checklist(render_checklist(criteria)) == tuple(criteria)


@given(st.text(max_size=300))
def test_parse_then_render_is_stable(text: str) -> None:
    once = render_checklist(parse_checklist(text))
    assert render_checklist(parse_checklist(once)) == once


def test_reps_free_hand_variants() -> None:
    text = """
    Cut setup from 40 to 10 minutes
    - [x] Zero retests from clamp slip
    * [ ] Operators trained on both shifts
    [X] Report in the weekly ops review

    -
    """
    assert parse_checklist(text) == (
        SuccessCriterion(text="Cut setup from 40 to 10 minutes"),
        SuccessCriterion(text="Zero retests from clamp slip", met=True),
        SuccessCriterion(text="Operators trained on both shifts"),
        SuccessCriterion(text="Report in the weekly ops review", met=True),
    )


def test_empty_and_none_have_no_criteria() -> None:
    assert parse_checklist(None) == ()
    assert parse_checklist("  \n\n ") == ()
    assert render_checklist([]) == ""
