"""The pipeline report on both CRM sandboxes: its figures against the CRM, and in a browser.

The expected figures are computed here from what the CRM itself holds, read through its own
client library (simple-salesforce, hubspot-api-client), never from servefirst's state or code.
The HTML page is opened in headless Chromium, which must log nothing to its console (the page's
content security policy turns any attempt to fetch something into a console error), and a
screenshot is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hubspot
import pytest
from typer.testing import CliRunner

from servefirst.sync.cli import app

if TYPE_CHECKING:
    from tests.sync.acceptance.conftest import Driver

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
TODAY = dt.datetime.now(dt.UTC).date()
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Debian's chromium is not installed (.ci/run installs it): cannot render the report",
)


@dataclass(frozen=True)
class Fact:
    """One engagement as the CRM holds it."""

    id: str
    owner: str
    stage: str  # the CRM's stage name, or Won
    lost: bool
    po_date: dt.date | None
    operational_date: dt.date | None
    health: str | None
    slips: int


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def _health(value: Any) -> str | None:
    return str(value).strip().lower().replace(" ", "_") if value else None


def salesforce_facts(crm: Driver) -> list[Fact]:
    soql = (
        "SELECT Id, Owner.Name, StageName, IsClosed, IsWon, CloseDate, Operational_Date__c, "
        "Playbook_Health__c, Operational_Date_Slips__c FROM Opportunity"
    )
    rows = crm.client.query_all(soql)["records"]  # type: ignore[attr-defined]
    return [
        Fact(
            id=r["Id"],
            owner=(r.get("Owner") or {}).get("Name") or "",
            stage="Won" if r["IsWon"] else r["StageName"],
            lost=bool(r["IsClosed"] and not r["IsWon"]),
            po_date=_date(r["CloseDate"]),
            operational_date=_date(r["Operational_Date__c"]),
            health=_health(r["Playbook_Health__c"]),
            slips=int(r["Operational_Date_Slips__c"] or 0),
        )
        for r in rows
    ]


def hubspot_facts(crm: Driver) -> list[Fact]:
    client = hubspot.Client.create(access_token=crm.sandbox.token, host=crm.sandbox.url)
    pipeline = next(
        p for p in client.crm.pipelines.pipelines_api.get_all("deals").results
        if p.label == "Serve-first"
    )  # fmt: skip
    stages = {s.id: s for s in pipeline.stages}
    owners = {
        o.id: " ".join(p for p in (o.first_name, o.last_name) if p)
        for o in client.crm.owners.owners_api.get_page(limit=500).results
    }
    props = ["pipeline", "dealstage", "closedate", "operational_date", "playbook_health",
             "operational_date_slips", "hubspot_owner_id"]  # fmt: skip
    facts = []
    for deal in client.crm.deals.get_all(properties=props):
        p = deal.properties
        if p.get("pipeline") != pipeline.id:
            continue
        stage = stages[p["dealstage"]]
        closed = stage.metadata.get("isClosed") == "true"
        won = closed and float(stage.metadata.get("probability") or 0) >= 1.0
        facts.append(
            Fact(
                id=deal.id,
                owner=owners.get(p.get("hubspot_owner_id") or "", ""),
                stage="Won" if won else stage.label,
                lost=closed and not won,
                po_date=_date(p.get("closedate")),
                operational_date=_date(p.get("operational_date")),
                health=_health(p.get("playbook_health")),
                slips=int(p.get("operational_date_slips") or 0),
            )
        )
    client.crm.deals.basic_api.api_client.rest_client.pool_manager.clear()
    return facts


def crm_facts(crm: Driver) -> list[Fact]:
    return salesforce_facts(crm) if crm.crm == "salesforce" else hubspot_facts(crm)


def cli(crm: Driver, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "-c", str(crm.sandbox.config_path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def _month(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def expected(facts: list[Fact]) -> dict[str, Any]:
    """The report's figures, computed from the CRM's own values."""
    live = [f for f in facts if not f.lost]
    orders = Counter(_month(f.po_date) for f in live if f.po_date)
    going = Counter(_month(f.operational_date) for f in live if f.operational_date)
    by_stage: dict[str, Counter[str]] = {}
    by_owner: dict[str, Counter[str]] = {}
    for f in live:
        if f.health:
            by_stage.setdefault(f.stage, Counter())[f.health] += 1
            by_owner.setdefault(f.owner, Counter())[f.health] += 1
    return {
        "engagements": len(live),
        "forecast": [
            {"month": m, "orders": orders[m], "going_live": going[m]}
            for m in sorted(set(orders) | set(going))
        ],
        "no_operational_date": sum(f.operational_date is None for f in live),
        "by_stage": by_stage,
        "by_owner": by_owner,
        "slips": Counter(min(f.slips, 4) for f in live),
        "attention": {f.id for f in live if f.health in ("at_risk", "off_track")},
    }


def _by_group(rows: list[dict[str, Any]], key: str) -> dict[str, Counter[str]]:
    return {r[key]: Counter({k: v for k, v in r.items() if k != key and v}) for r in rows}


def render(page: Path, screenshot: Path) -> tuple[list[str], str]:
    """Open a page in headless Chromium: its console lines and its DOM after scripts ran."""
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0", "--window-size=1280,3600"]  # fmt: skip
    shot = subprocess.run(
        [*base, f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    dom = subprocess.run(
        [*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    console = [
        line for line in (shot.stderr + dom.stderr).splitlines() if ":CONSOLE" in line
    ]  # fmt: skip
    return console, dom.stdout


@needs_chromium
def test_the_console_check_sees_errors_and_blocked_fetches(tmp_path: Path) -> None:
    """The browser check can fail: a page that errors or fetches is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        "<img src='https://example.invalid/x.png'><script>console.error('boom')</script>"
        "</body></html>",
        encoding="utf-8",
    )
    console, _ = render(page, tmp_path / "bad.png")
    assert any("boom" in line for line in console)
    assert any("example.invalid" in line for line in console)


@needs_chromium
def test_the_report_matches_the_crm_and_renders_offline(crm: Driver, tmp_path: Path) -> None:
    assert cli(crm, "provision")[0] == 0
    assert cli(crm, "sync")[0] == 0
    # A rep moves an Operational Date later: a slip the report must count.
    moved = next(f for f in crm_facts(crm) if not f.lost and f.operational_date and f.health)
    assert moved.operational_date is not None
    crm.set_operational_date(moved.id, moved.operational_date + dt.timedelta(days=45))
    assert cli(crm, "sync")[0] == 0
    facts = crm_facts(crm)
    want = expected(facts)

    before = crm.admin.stats()
    code, out = cli(crm, "report", "--format", "json")
    assert code == 0
    html = tmp_path / "report.html"
    assert cli(crm, "report", "--out", str(html))[0] == 0
    assert crm.admin.stats() == before  # the report asked the CRM nothing

    doc = json.loads(out)
    assert doc["engagements"] == want["engagements"]
    assert doc["forecast"] == want["forecast"]
    assert doc["no_operational_date"] == want["no_operational_date"]
    assert _by_group(doc["health_by_stage"], "stage") == want["by_stage"]
    assert _by_group(doc["health_by_owner"], "owner") == want["by_owner"]
    slips = {int(r["slips"].split()[0]): r["engagements"] for r in doc["slips"]}
    assert slips == {n: want["slips"][n] for n in range(5)}
    assert slips[0] < want["engagements"]  # the rep's move counted
    assert moved.id in {s["id"] for s in doc["top_slippers"]}
    assert {e["id"] for e in doc["attention"]} == want["attention"]
    assert all(e["url"] and e["id"] in e["url"] for e in doc["attention"])

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{crm.crm}.png"
    console, dom = render(html, shot)
    assert console == []
    assert shot.stat().st_size > 10_000
    assert 'class="sortable ready"' in dom  # the table's script ran
    assert dom.count("data:image/svg+xml;base64,") == 5  # every chart drew
