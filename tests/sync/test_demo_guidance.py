"""The demo tells the whole story on each CRM: timetable, a dismissed task back, a waiver."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from servefirst.sync.demo.guidance import WAIVER_REASON
from servefirst.sync.demo.story import run_demo
from servefirst.sync.engine.tasks import REOPEN_NOTE


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_the_demo_shows_a_timetable_a_task_coming_back_and_a_waiver(
    crm: str, tmp_path: Path
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None)
    assert run_demo(crm, workdir=tmp_path, console=console) == 0
    text = out.getvalue()
    assert "ready to paste into a mail to the sponsor" in text
    assert "Operational Date" in text.split("ready to paste", 1)[1]
    assert "Tasks reopened: 1" in text
    assert f"The dismissed task is open again: {REOPEN_NOTE}" in text
    assert "Waived on " in text and WAIVER_REASON in text
    assert "is closed." in text
    assert "0 change(s) would be made." in text
