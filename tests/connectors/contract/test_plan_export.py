"""``servefirst plan`` end to end on both sandboxes: the engagement is read by id through the
real client, and its timetable comes out as the sponsor's page, calendar and Markdown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from icalendar import Calendar
from typer.testing import CliRunner

from servefirst.sync.cli import app

TODAY = dt.datetime.now(dt.UTC).date()


def _plan(crm: Any, *args: str) -> Any:
    config = str(crm.sandbox.config_path)
    return CliRunner().invoke(app, ["plan", *args, "-c", config, "--as-of", TODAY.isoformat()])


def test_plan_exports_the_timetable_read_from_the_crm(crm: Any, tmp_path: Path) -> None:
    engagement_id = crm.make(
        name="Tensile test automation",
        stage="design",
        po_date=TODAY + dt.timedelta(days=40),
        operational_date=TODAY + dt.timedelta(days=90),
        criteria="- [ ] Setup from 40 to 10 minutes\n- [x] Operators trained",
        sponsor=True,
    )
    crm.make(name="Another engagement", stage="discover", po_date=TODAY + dt.timedelta(days=99))

    ics = tmp_path / "plan.ics"
    result = _plan(crm, engagement_id, "--format", "ics", "--out", str(ics))
    assert result.exit_code == 0, result.output
    events = {
        str(e["summary"]).split(":")[0]: e.decoded("dtstart")
        for e in Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    }
    od = TODAY + dt.timedelta(days=90)
    assert events == {
        "Deliver complete": TODAY + dt.timedelta(days=40),
        "Purchase order": TODAY + dt.timedelta(days=40),
        "Operational Date": od,
        "Success review": od + dt.timedelta(days=14),
    }

    page = _plan(crm, engagement_id, "--format", "html")
    assert page.exit_code == 0, page.output
    assert "<h1>Project timetable: Tensile test automation</h1>" in page.stdout
    assert 'data-state="met">Operators trained' in page.stdout
    assert "Another engagement" not in page.stdout
    assert "Sponsor: to be named" not in page.stdout

    md = _plan(crm, engagement_id, "--format", "md")
    assert md.exit_code == 0, md.output
    assert "- [ ] Setup from 40 to 10 minutes" in md.stdout


def test_plan_for_an_unknown_engagement_exits_1(crm: Any) -> None:
    unknown = "006000000000999AAA" if crm.name == "salesforce" else "999999999"
    result = _plan(crm, unknown, "--format", "md")
    assert result.exit_code == 1
    assert f"no engagement {unknown!r}" in result.output
