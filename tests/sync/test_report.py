"""``servefirst report`` on the in-memory CRM: figures, formats, and no CRM call at all."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from servefirst.config.loader import builtin_playbook, load_playbook_file
from servefirst.playbook.model import Engagement, Status
from servefirst.sync.cli import app
from servefirst.sync.engine import SyncOptions, run_sync
from servefirst.sync.report import render
from servefirst.sync.report.figures import compute
from servefirst.sync.state import StateStore
from servefirst.sync.state.records import EngagementSnapshot

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

T0 = dt.date(2026, 3, 2)
Make = Callable[..., Engagement]
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _refuse(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("the report opened a connector: it must read the state store only")


def _pipeline(fake: FakeConnector, make: Make) -> None:
    """A small pipeline with every kind of figure: months, stages, owners, slips, findings."""
    rows: list[tuple[str, str | None, Status, str | None, dict[str, Any]]] = [
        ("E1", "design", Status.OPEN, "Ana", {}),
        ("E2", "design", Status.OPEN, "Ana", {"sponsor": False}),
        ("E3", "diagnose", Status.OPEN, "Bo", {"operational_date": None}),
        ("E4", "deliver", Status.OPEN, "Bo", {"po_date": T0 - dt.timedelta(days=5)}),
        ("E5", None, Status.WON, "Cy", {"operational_date": T0 + dt.timedelta(days=200)}),
        ("E6", None, Status.LOST, "Cy", {}),
        ("E7", "discover", Status.OPEN, None, {"po_date": T0 + dt.timedelta(days=70)}),
    ]
    for eid, stage, status, owner, extra in rows:
        engagement = make(eid, stage=stage, status=status, **extra)
        fake.add(engagement.model_copy(update={"owner_name": owner}))


def _store(config: Path) -> StateStore:
    return StateStore.open(f"sqlite:///{config.parent / '.servefirst' / 'state.db'}")


@pytest.fixture
def config(
    tmp_path: Path, fake: FakeConnector, make: Make, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Two connections whose history was written by syncs of the in-memory CRM; no CRM after."""
    path = tmp_path / "servefirst.toml"
    path.write_text(
        '[connections.acme]\ncrm = "hubspot"\ntoken = { env = "ACME_TOKEN" }\n'
        '[connections.zenith]\ncrm = "hubspot"\ntoken = { env = "ZENITH_TOKEN" }\n',
        encoding="utf-8",
    )
    _pipeline(fake, make)
    prime = load_playbook_file(builtin_playbook("prime"))
    store = _store(path)
    try:
        run_sync(fake, prime, store, "acme", SyncOptions(as_of=T0))
        fake.edit("E1", operational_date=T0 + dt.timedelta(days=120))  # a slip
        run_sync(fake, prime, store, "acme", SyncOptions(as_of=T0 + dt.timedelta(days=1)))
    finally:
        store.close()
    monkeypatch.setattr("servefirst.sync.service.open_connector", _refuse)
    monkeypatch.setattr("servefirst.sync.connectors.open_connector", _refuse)
    return path


def _month(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def test_json_figures_match_the_crm_records(config: Path, fake: FakeConnector) -> None:
    code, out, _ = invoke("report", "-c", str(config), "--connection", "acme", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    live = [e for e in fake.records.values() if e.status is not Status.LOST]
    orders = Counter(_month(e.po_date) for e in live if e.po_date)
    going = Counter(_month(e.operational_date) for e in live if e.operational_date)
    assert doc["forecast"] == [
        {"month": m, "orders": orders[m], "going_live": going[m]}
        for m in sorted(set(orders) | set(going))
    ]
    assert doc["no_operational_date"] == sum(e.operational_date is None for e in live)
    assert doc["engagements"] == len(live) == 6
    health = {e.id: e.current.health.value for e in live if e.current.health is not None}
    by_owner: dict[str, Counter[str]] = {}
    for e in live:
        by_owner.setdefault(e.owner_name or e.owner_id or "", Counter())[health[e.id]] += 1
    assert {
        r["owner"]: Counter({k: v for k, v in r.items() if k != "owner" and v})
        for r in doc["health_by_owner"]
    } == by_owner
    stages = [r["stage"] for r in doc["health_by_stage"]]
    assert stages == [
        s for s in ("Discover", "Diagnose", "Design", "Deliver", "Won") if s in stages
    ]
    assert {r["slips"]: r["engagements"] for r in doc["slips"]}["1"] == 1
    assert [s["id"] for s in doc["top_slippers"]] == ["E1"]
    flagged = {eid for eid, h in health.items() if h in ("at_risk", "off_track")}
    assert {e["id"] for e in doc["attention"]} == flagged
    e2 = next(e for e in doc["attention"] if e["id"] == "E2")
    assert (e2["owner"], e2["findings"], e2["rules"]) == (
        "Ana",
        ["No sponsor"],
        ["sponsor_missing"],
    )
    assert e2["url"] == "https://crm.example/records/E2"
    assert [p["date"] for p in doc["trend"]] == ["2026-03-02", "2026-03-03"]


def test_csv_carries_the_same_figures_as_json(config: Path) -> None:
    _, out, _ = invoke("report", "-c", str(config), "--connection", "acme", "--format", "json")
    doc = json.loads(out)
    _, text, _ = invoke("report", "-c", str(config), "--connection", "acme", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    cell = {(r["figure"], r["group"], r["series"]): r["value"] for r in rows}
    for m in doc["forecast"]:
        assert cell[("forecast", m["month"], "orders")] == str(m["orders"])
        assert cell[("forecast", m["month"], "going_live")] == str(m["going_live"])
    for r in doc["health_by_stage"]:
        for h in ("on_track", "at_risk", "off_track"):
            assert cell[("health_by_stage", r["stage"], h)] == str(r[h])
    for e in doc["attention"]:
        assert cell[("attention", e["id"], "name")] == e["name"]
        assert cell[("attention", e["id"], "rules")] == " ".join(e["rules"])
    assert cell[("summary", "all", "engagements")] == str(doc["engagements"])


class _Refs(HTMLParser):
    """Every address a page refers to, by tag and attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))


def test_html_is_self_contained_and_links_only_crm_records(config: Path) -> None:
    out = config.parent / "pipeline.html"
    code, _, err = invoke("report", "-c", str(config), "--connection", "acme", "--out", str(out))
    assert code == 0
    assert str(out) in err.replace("\n", "")
    page = out.read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(page)
    loads = [(tag, value) for tag, name, value in parser.refs if tag != "a"]
    assert loads and all(value.startswith("data:") for _, value in loads)
    links = [value for tag, _, value in parser.refs if tag == "a"]
    assert links and all(link.startswith("https://crm.example/records/") for link in links)
    assert "Content-Security-Policy" in page
    assert "Operational-Date forecast" in page
    assert "No sponsor" in page  # findings read as words, rule ids only in their own line


def test_all_connections_and_choosing_one(config: Path, fake: FakeConnector) -> None:
    code, _, err = invoke("report", "-c", str(config), "--format", "json")
    assert code == 2  # two connections configured: say which
    assert "connection" in err
    code, out, _ = invoke("report", "-c", str(config), "--all", "--format", "json")
    assert code == 0
    assert json.loads(out)["connections"] == ["acme", "zenith"]
    code, _, err = invoke("report", "-c", str(config), "--connection", "zenith")
    assert code == 2
    assert "run `servefirst sync` first" in err.replace("\n", " ")
    assert invoke("report", "-c", str(config), "--format", "pdf")[0] == 2


def test_the_page_lists_the_most_urgent_thousand_and_says_so() -> None:
    flagged = [
        EngagementSnapshot(
            engagement_id=f"E{i:04d}",
            name=f"Engagement {i:04d}",
            status="open",
            stage="design",
            stage_label="Design",
            stage_rank=2,
            health="off_track" if i == 1000 else "at_risk",
            as_of=T0,
        )
        for i in range(1001)
    ]
    page = render(compute(["acme"], flagged, []), "html")
    table = page[page.index('id="attention"') :]
    assert table.count("<tr>") == 1001  # the header and 1,000 engagements
    assert "Engagement 1000" in table  # the off-track one comes first
    assert "1,000 most urgent of 1,001" in page
