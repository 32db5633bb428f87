"""Starting, configuring, seeding and persisting the sandbox."""

from __future__ import annotations

import datetime as dt
import json
import time
import tomllib
from pathlib import Path
from typing import Any

from servefirst.config.loader import load_settings
from servefirst.config.settings import HubSpotConnection, Settings
from servefirst.connectors.hubspot.sandbox import Portal, start_sandbox
from servefirst.connectors.hubspot.sandbox.seed import seed_bench, seed_demo
from servefirst.connectors.sandboxkit import RunningSandbox


def test_written_config_validates_and_points_at_the_sandbox(sandbox: RunningSandbox) -> None:
    raw = tomllib.loads(sandbox.config_path.read_text(encoding="utf-8"))
    settings = Settings.model_validate({**raw, "base_dir": sandbox.config_path.parent})
    name, connection = settings.connection(None)
    assert name == "hubspot"
    assert isinstance(connection, HubSpotConnection)
    assert connection.base_url == sandbox.url
    assert settings.playbook == "builtin:prime"
    assert settings.resolve_state_url().startswith("sqlite:///")
    secret = connection.token.reveal(sandbox.config_path.parent, "token")
    assert secret.get_secret_value() == sandbox.token


def test_written_config_loads_through_the_config_loader(sandbox: RunningSandbox) -> None:
    settings = load_settings(sandbox.config_path)
    _, connection = settings.connection("hubspot")
    assert isinstance(connection, HubSpotConnection)
    assert connection.tier == "professional"


def test_ready_line_is_one_json_line(sandbox: RunningSandbox) -> None:
    line = json.loads(sandbox.ready_line())
    assert line["crm"] == "hubspot"
    assert line["ca_bundle"] is None
    assert line["url"] == sandbox.url


def _deal_values(portal: Portal) -> list[tuple[str, ...]]:
    keys = ("dealname", "dealstage", "closedate", "operational_date", "success_criteria")
    return [
        tuple(r.props.get(k, "") for k in keys) for r in portal.tables["deals"].records.values()
    ]


def test_demo_seed_is_deterministic_for_a_day_and_breaks_the_playbook() -> None:
    day = dt.date(2026, 3, 2)
    first, second = Portal(), Portal()
    counts = seed_demo(first, day)
    seed_demo(second, day)
    assert _deal_values(first) == _deal_values(second)
    assert counts["deals"] == 45
    serve_first = [v for v in _deal_values(first) if v[1] != "" and not v[1].isalpha()]
    assert len(serve_first) == 40
    missing_od = [v for v in serve_first if v[3] == ""]
    missing_criteria = [v for v in serve_first if v[4] == ""]
    past_od = [v for v in serve_first if v[3] and v[3] < day.isoformat()]
    assert missing_od and missing_criteria and past_od


def test_demo_seed_reuses_an_existing_schema() -> None:
    portal = Portal()
    seed_demo(portal, dt.date(2026, 3, 2))
    assert seed_demo(portal, dt.date(2026, 3, 2))["deals"] == 0
    labels = [p.label for p in portal.pipelines.live()]
    assert labels.count("Serve-first") == 1
    sponsor = [x for x in portal.association_schema.pair_types("deals", "contacts") if x[2]]
    assert len(sponsor) == 1


def test_bench_seed_writes_100000_deals_quickly() -> None:
    portal = Portal()
    started = time.monotonic()
    seed_bench(portal, 100_000)
    assert time.monotonic() - started < 30
    assert len(portal.tables["deals"].records) == 100_000
    deal_id = next(iter(portal.tables["deals"].records))
    assert portal.associations.targets("deals", deal_id, "contacts")


def test_seed_handle_seeds_in_process_without_requests(
    empty_sandbox: RunningSandbox, connect: Any
) -> None:
    empty_sandbox.admin.reset_stats()
    empty_sandbox.seed("bench", 250)
    assert empty_sandbox.admin.stats()["total"] == 0
    apis = connect(empty_sandbox.url, empty_sandbox.token)
    assert apis.deals_search.do_search(public_object_search_request={"limit": 1}).total == 250


def test_data_file_persists_the_portal_across_restarts(tmp_path: Path, connect: Any) -> None:
    data = tmp_path / "portal.sqlite"
    first = start_sandbox(
        workdir=tmp_path / "a", seed="none", data=data, rate_limits=False, search_lag_seconds=0.0
    )
    apis = connect(first.url, first.token)
    deal = apis.deals.create({"properties": {"dealname": "kept", "closedate": "2025-05-01"}})
    first.stop()
    second = start_sandbox(
        workdir=tmp_path / "b", seed="demo", data=data, rate_limits=False, search_lag_seconds=0.0
    )
    try:
        assert second.token == first.token
        again = connect(second.url, second.token)
        read = again.deals.get_by_id(deal.id, properties=["dealname", "closedate"])
        assert read.properties["closedate"] == "2025-05-01T00:00:00.000Z"
        assert again.deals_search.do_search(public_object_search_request={"limit": 1}).total == 1
    finally:
        second.stop()
