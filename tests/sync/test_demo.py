"""``servefirst demo`` ends with the pipeline report, written from history after the CRM stops."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from servefirst.sync.cli import app


def test_the_demo_ends_by_writing_the_report_and_saying_where(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--crm", "hubspot", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = tmp_path / "hubspot" / "report.html"
    assert page.is_file()
    assert "Operational-Date forecast" in page.read_text(encoding="utf-8")
    tail = " ".join(result.stdout.split()[-40:])
    assert f"The pipeline report is in {page.resolve()}" in tail
