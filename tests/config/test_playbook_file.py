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
    text = PRIME.replace("has no Operational Date.", "has no Operational Date {sponsr}.")
    (problem,) = _problems(tmp_path, text)
    assert "{sponsr}" in problem
    assert f":{_line_of(text, '{sponsr}')}: " in problem


def test_bad_severity_value(tmp_path: Path) -> None:
    text = PRIME.replace(
        "  po_date_past:\n    severity: warning", "  po_date_past:\n    severity: fatal"
    )
    (problem,) = _problems(tmp_path, text)
    assert f":{_line_of(text, 'severity: fatal')}: " in problem


def test_parameter_a_rule_does_not_use(tmp_path: Path) -> None:
    text = PRIME.replace(
        "  po_date_past:\n    severity: warning",
        "  po_date_past:\n    max_slips: 3\n    severity: warning",
    )
    (problem,) = _problems(tmp_path, text)
    assert "does not use 'max_slips'" in problem
    assert f":{_line_of(text, 'max_slips: 3')}: " in problem
