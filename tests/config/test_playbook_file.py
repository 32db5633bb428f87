"""Playbook YAML errors each name the file, the line and the key, so RevOps can fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from servefirst.config.loader import ConfigFileError, builtin_playbook, load_playbook_file

PRIME = builtin_playbook("prime").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_playbook_file(path)
    assert all(p.startswith(f"{path}:") for p in caught.value.problems)
    return caught.value.problems


def test_bundled_playbook_is_valid() -> None:
    playbook = load_playbook_file(builtin_playbook("prime"))
    assert [s.key for s in playbook.stages] == ["discover", "diagnose", "design", "deliver"]
    assert [s.typical_days for s in playbook.stages] == [14, 21, 21, 14]
    assert playbook.delivery_lead_days == 30


def test_misspelt_key_names_line_and_key(tmp_path: Path) -> None:
    text = PRIME.replace("    confirm_within_days: 14", "    confirm_whithin_days: 14")
    (problem,) = _problems(tmp_path, text)
    line = _line_of(text, "confirm_whithin_days")
    assert f":{line}: " in problem
    assert "rules.success_unconfirmed.confirm_whithin_days" in problem


def test_rule_with_unknown_stage(tmp_path: Path) -> None:
    text = PRIME.replace("    from_stage: design", "    from_stage: desing")
    (problem,) = _problems(tmp_path, text)
    assert f":{_line_of(text, 'from_stage: desing')}: " in problem
    assert "unknown stage 'desing'" in problem


def test_duplicate_stage_key(tmp_path: Path) -> None:
    text = PRIME.replace("  - key: design", "  - key: diagnose")
    problems = _problems(tmp_path, text)
    second = [i for i, line in enumerate(text.splitlines(), 1) if "- key: diagnose" in line][1]
    (duplicate,) = [p for p in problems if "appears twice" in p]
    assert f":{second}: " in duplicate
    # and every rule that started from the now-missing stage says so, on its own line
    assert any("unknown stage 'design'" in p for p in problems)


def test_number_out_of_range(tmp_path: Path) -> None:
    text = PRIME.replace("delivery_lead_days: 30", "delivery_lead_days: -5")
    (problem,) = _problems(tmp_path, text)
    assert f":{_line_of(text, 'delivery_lead_days: -5')}: " in problem
    assert "delivery_lead_days" in problem


def test_broken_yaml_syntax_reports_its_line(tmp_path: Path) -> None:
    text = PRIME.replace(
        "    severity: warning\n    action: flag\n    max_slips: 2",
        "    severity: [warning\n    action: flag\n    max_slips: 2",
    )
    (problem,) = _problems(tmp_path, text)
    assert "invalid YAML" in problem
    line = int(problem.split(":")[1])
    assert abs(line - _line_of(text, "severity: [warning")) <= 3


def test_unknown_placeholder_in_message(tmp_path: Path) -> None:
    text = PRIME.replace("has no Operational Date yet:", "has no Operational Date {sponsr}:")
    (problem,) = _problems(tmp_path, text)
    assert "{sponsr}" in problem
    assert f":{_line_of(text, '{sponsr}')}: " in problem


def test_bad_severity_value(tmp_path: Path) -> None:
    text = PRIME.replace(
        "  po_date_past:\n    label: PO date passed\n    severity: warning",
        "  po_date_past:\n    label: PO date passed\n    severity: fatal",
    )
    (problem,) = _problems(tmp_path, text)
    assert f":{_line_of(text, 'severity: fatal')}: " in problem


def test_parameter_a_rule_does_not_use(tmp_path: Path) -> None:
    text = PRIME.replace(
        "  po_date_past:\n    label: PO date passed\n    severity: warning",
        "  po_date_past:\n    label: PO date passed\n    max_slips: 3\n    severity: warning",
    )
    (problem,) = _problems(tmp_path, text)
    assert "does not use 'max_slips'" in problem
    assert f":{_line_of(text, 'max_slips: 3')}: " in problem


def test_task_group_naming_an_unknown_rule(tmp_path: Path) -> None:
    text = PRIME.replace("      - po_date_past\n", "      - po_date_passed\n")
    problems = _problems(tmp_path, text)
    (problem,) = [p for p in problems if "unknown rule" in p]
    assert f":{_line_of(text, '- po_date_passed')}: " in problem
    assert "names unknown rule 'po_date_passed'" in problem
    # and the rule it meant, left without a group, is told it now needs its own fix
    assert any("rule 'po_date_past' needs a fix" in p for p in problems)


def test_rule_in_two_task_groups(tmp_path: Path) -> None:
    text = PRIME.replace(
        "waivers:\n",
        "  chase:\n    label: Chase\n    rules: [po_date_past]\n"
        "    task_title: Chase the order\n    fix: Call them.\n\nwaivers:\n",
        1,
    )
    text = text.replace("task_groups:\n  timetable:", "task_groups:\n  timetable:", 1)
    problems = _problems(tmp_path, text)
    assert any("in task groups 'timetable' and 'chase'" in p for p in problems), problems


def test_task_group_without_a_task_title(tmp_path: Path) -> None:
    text = PRIME.replace(
        '    task_title: "Agree a realistic Operational Date with {sponsor}"\n', ""
    )
    (problem,) = _problems(tmp_path, text)
    assert "task_groups.timetable.task_title" in problem
    assert f":{_line_of(text, '  timetable:')}: " in problem


def test_ungrouped_rule_needs_a_fix(tmp_path: Path) -> None:
    text = PRIME.replace("      - po_date_past\n", "")
    (problem,) = _problems(tmp_path, text)
    assert "rule 'po_date_past' needs a fix" in problem


def test_gap_after_po_longer_than_the_delivery_lead(tmp_path: Path) -> None:
    """Else the timetable's own earliest Operational Date would be flagged as before the PO."""
    text = PRIME.replace("min_days_after_po: 0", "min_days_after_po: 45")
    (problem,) = _problems(tmp_path, text)
    assert f":{_line_of(text, 'min_days_after_po: 45')}: " in problem
    assert "exceeds delivery_lead_days (30)" in problem
