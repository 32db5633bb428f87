"""The sponsor's export: Markdown, a self-contained printable page (rendered in headless
Chromium), and a calendar that a real iCalendar parser reads back with the expected events."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from icalendar import Calendar

from servefirst.playbook.definition import Playbook
from servefirst.playbook.export.html import to_html
from servefirst.playbook.export.ics import to_ics
from servefirst.playbook.export.markdown import to_markdown
from servefirst.playbook.model import Engagement, SuccessCriterion
from servefirst.playbook.timetable import build_timetable

T = dt.date(2026, 6, 15)
DAY = dt.timedelta(days=1)
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
Make = Callable[..., Engagement]


@pytest.fixture
def planned(engagement: Make) -> Engagement:
    return engagement(
        stage="diagnose",
        po_date=T + 60 * DAY,
        operational_date=T + 100 * DAY,
        success_criteria=(
            SuccessCriterion(text="Setup from 40 to 10 minutes"),
            SuccessCriterion(text="No retests <from> clamp slip & co", met=True),
        ),
    )


def test_ics_has_one_event_per_dated_milestone(prime: Playbook, planned: Engagement) -> None:
    data = to_ics(planned, build_timetable(planned, prime, T))
    calendar = Calendar.from_ical(data)
    events = {
        str(e["summary"]).split(":")[0]: (e.decoded("dtstart"), e.decoded("dtend"))
        for e in calendar.walk("VEVENT")
    }
    assert events == {
        "Design complete": (T + 46 * DAY, T + 47 * DAY),
        "Deliver complete": (T + 60 * DAY, T + 61 * DAY),
        "Purchase order": (T + 60 * DAY, T + 61 * DAY),
        "Operational Date": (T + 100 * DAY, T + 101 * DAY),
        "Success review": (T + 114 * DAY, T + 115 * DAY),
    }
    (key,) = [e for e in calendar.walk("VEVENT") if e.get("priority") == 1]
    assert str(key["summary"]) == f"Operational Date: {planned.name}"
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    # the same timetable gives the same file, whatever day it is exported again
    later = build_timetable(planned, prime, T + 5 * DAY)
    assert to_ics(planned, later).replace(b"20260620", b"20260615") == data


def test_ics_of_an_undated_engagement_has_no_events(prime: Playbook, engagement: Make) -> None:
    e = engagement(stage="discover", po_date=None, operational_date=None)
    calendar = Calendar.from_ical(to_ics(e, build_timetable(e, prime, T)))
    assert calendar.walk("VEVENT") == []


def test_markdown_lists_the_sponsor_criteria_and_milestones(
    prime: Playbook, planned: Engagement
) -> None:
    text = to_markdown(planned, build_timetable(planned, prime, T))
    assert text.startswith(f"# Project timetable: {planned.name}\n")
    assert "- Sponsor: Dana Whitfield" in text
    assert "- [ ] Setup from 40 to 10 minutes" in text
    assert "- [x] No retests <from> clamp slip & co" in text
    assert "| **Operational Date** | **23 Sep 2026** |" in text


def test_html_is_self_contained_and_escaped(prime: Playbook, planned: Engagement) -> None:
    page = to_html(planned, build_timetable(planned, prime, T))
    assert not re.search(r"https?:|src=|<link|<script|url\(|@import", page)
    assert "No retests &lt;from&gt; clamp slip &amp; co" in page
    assert page.count('class="key"') == 1  # the Operational Date's table row
    assert "Operational Date: <strong>23 Sep 2026</strong>" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian package: chromium)"
)
def test_html_renders_in_headless_chromium(
    prime: Playbook, planned: Engagement, tmp_path: Path
) -> None:
    """The page renders offline; the screenshot is kept in test-artifacts/ for a human look."""
    assert CHROMIUM is not None
    page = tmp_path / "plan.html"
    page.write_text(to_html(planned, build_timetable(planned, prime, T)), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "sponsor-plan.png"
    shot.unlink(missing_ok=True)
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1024,1400",
    ]
    subprocess.run(
        [*flags, f"--screenshot={shot}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a drawn page, not a blank one
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'id="operational-date"' in dom
    assert dom.count('class="dot') == 5
    assert 'data-state="met"' in dom
