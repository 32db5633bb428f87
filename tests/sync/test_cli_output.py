"""What the command line prints: text as written, tables that fit, -q/-v, progress, secrets.

Each test drives the CLI through Typer's runner (stdout is not a terminal there, as when piped)
or the console helpers the commands use, and looks at the characters a user would see.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console
from typer.testing import CliRunner

from servefirst.config.loader import builtin_playbook, load_settings
from servefirst.connectors.base import ProvisionReport, ProvisionStep
from servefirst.playbook.model import Engagement
from servefirst.sync.cli import app
from servefirst.sync.cli.output import SyncProgress, Verbosity, logs_wanted, state
from servefirst.sync.cli.sync_render import render_provision, render_runs
from servefirst.sync.connectors import ConnectionSettings
from servefirst.sync.state import RunStatus, RunTotals, StateStore

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

runner = CliRunner()
Make = Callable[..., Engagement]


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _playbook_with_problem_on_line_100(path: Path) -> Path:
    """The bundled playbook after 99 comment lines and an unknown key on line 100."""
    prime = builtin_playbook("prime").read_text(encoding="utf-8")
    path.write_text("# padding\n" * 99 + "sevrity: high\n" + prime, encoding="utf-8")
    return path


def test_a_problem_on_line_100_prints_as_line_100_not_an_emoji(tmp_path: Path) -> None:
    playbook = _playbook_with_problem_on_line_100(tmp_path / "playbook.yaml")
    config = tmp_path / "servefirst.toml"
    config.write_text(f'playbook = "{playbook.name}"\n', encoding="utf-8")
    code, out, err = invoke("validate", "-c", str(config))
    assert code == 2, out + err
    assert f"{playbook}:100:" in err
    assert "💯" not in err + out


def test_markup_in_data_is_printed_as_written(tmp_path: Path) -> None:
    engagement = {
        "id": "[bold]E1[/]",
        "name": "Acme :rocket: [red]rollout[/]",
        "stage": "design",
        "po_date": "2026-06-01",
    }
    path = tmp_path / "engagements.json"
    path.write_text(json.dumps(engagement), encoding="utf-8")
    code, out, _ = invoke("playbook", "check", str(path), "--as-of", "2026-03-02")
    assert code == 0
    assert "Acme :rocket: [red]rollout[/]" in out
    assert "[bold]E1[/]" in out
    assert "🚀" not in out


def test_provisioning_names_are_never_cut_at_80_columns() -> None:
    names = [
        "Opportunity.Operational_Date__c",
        "Opportunity.Operational_Date_Slips__c",
        "ServeFirst_Integration -> integration user",
        "Opportunity.ServeFirst_Operational_Date_Required",
    ]
    report = ProvisionReport(
        tuple(
            ProvisionStep("permission", name, "create", "grant read and edit to the user " * 3)
            for name in names
        ),
        applied=False,
    )
    console = Console(width=80, record=True, emoji=False)
    render_provision(console, "acme", report, dry_run=True)
    text = console.export_text()
    assert "…" not in text
    for line in text.splitlines():
        assert len(line) <= 80
    for name in names:
        assert name in text, f"{name} is not printed whole:\n{text}"


def test_playbook_show_keeps_every_placeholder_whole_at_80_columns() -> None:
    code, out, _ = invoke("playbook", "show")
    assert code == 0
    assert "…" not in out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    for placeholder in ("{engagement}", "{earliest_operational_date}", "{operational_date}"):
        assert placeholder in out


@pytest.fixture
def two_orgs(
    tmp_path: Path, fake: FakeConnector, make: Make, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[tuple[str, str]]]:
    """A config with two connections to the in-memory CRM; the second has its own playbook."""
    own = tmp_path / "emea.yaml"
    text = builtin_playbook("prime").read_text(encoding="utf-8")
    own.write_text(text.replace("name: prime", "name: emea", 1), encoding="utf-8")
    assert "name: emea" in own.read_text(encoding="utf-8")
    config = tmp_path / "servefirst.toml"
    config.write_text(
        "[connections.us]\n"
        'crm = "hubspot"\n'
        'token = { env = "US_TOKEN" }\n'
        "[connections.emea]\n"
        'crm = "hubspot"\n'
        'token = { env = "EMEA_TOKEN" }\n'
        'playbook = "emea.yaml"\n',
        encoding="utf-8",
    )
    fake.add(make("E1"))
    opened: list[tuple[str, str]] = []

    def connect(name: str, conn: ConnectionSettings, playbook: object, base_dir: Path) -> object:
        opened.append((name, getattr(playbook, "name", "")))
        return fake

    monkeypatch.setattr("servefirst.sync.service.open_connector", connect)
    return config, opened


def test_sync_all_runs_every_connection_with_its_own_playbook(
    two_orgs: tuple[Path, list[tuple[str, str]]],
) -> None:
    config, opened = two_orgs
    args = ("--all", "--as-of", "2026-03-02", "--dry-run", "--json")
    code, out, err = invoke("sync", "-c", str(config), *args)
    assert code == 0, err
    documents = json.loads(out)
    assert [d["connection"] for d in documents] == ["us", "emea"]
    assert opened == [("us", "prime"), ("emea", "emea")]


def test_sync_without_a_choice_among_several_says_how_to_choose(
    two_orgs: tuple[Path, list[tuple[str, str]]],
) -> None:
    config, opened = two_orgs
    code, _, err = invoke("sync", "-c", str(config))
    assert code == 2
    assert "--connection NAME" in err
    assert "--all" in err
    assert opened == []


def test_logs_follow_q_and_v(two_orgs: tuple[Path, list[tuple[str, str]]]) -> None:
    config, _ = two_orgs
    # The runner's stderr is not a terminal: logs are on, as for a scheduler or a pipe.
    code, _, err = invoke("sync", "-c", str(config), "--connection", "us", "--json")
    assert code == 0
    assert "level=info" in err
    code, out, err = invoke("sync", "-c", str(config), "--connection", "us", "--json", "-q")
    assert code == 0
    assert err == ""
    assert json.loads(out)["connection"] == "us"  # -q keeps the result scripts read
    code, out, err = invoke("-q", "sync", "-c", str(config), "--connection", "us")
    assert (code, out, err) == (0, "", "")


def test_in_a_terminal_logs_need_v() -> None:
    state.verbosity = Verbosity.NORMAL
    assert not logs_wanted(interactive=True)
    assert logs_wanted(interactive=False)
    state.verbosity = Verbosity.VERBOSE
    assert logs_wanted(interactive=True)
    state.verbosity = Verbosity.QUIET
    assert not logs_wanted(interactive=False)
    state.verbosity = Verbosity.NORMAL


def test_a_long_sync_shows_counts_and_a_short_one_shows_nothing() -> None:
    now = [0.0]
    console = Console(width=100, record=True, force_terminal=True)
    progress = SyncProgress(console, delay=2.0, clock=lambda: now[0])
    now[0] = 1.0
    progress(RunTotals(engagements_read=2000))
    assert console.export_text() == ""  # a short sync stays quiet
    now[0] = 3.0
    progress(RunTotals(engagements_read=4000, fields_updated=120, tasks_opened=30))
    progress.close()
    shown = console.export_text()
    assert "4,000 read" in shown
    assert "120 fields" in shown
    assert "30 tasks opened" in shown


def test_an_inline_secret_names_its_line_and_the_two_ways_without_echoing_it(
    tmp_path: Path,
) -> None:
    config = tmp_path / "servefirst.toml"
    config.write_text(
        '[connections.acme]\ncrm = "hubspot"\ntoken = "pat-na1-very-secret"\n', encoding="utf-8"
    )
    code, out, err = invoke("validate", "-c", str(config))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{config}:3: ")
    assert "{ env = " in line
    assert "{ file = " in line
    assert "very-secret" not in out + err


def test_a_missing_secret_names_its_line_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    config = tmp_path / "servefirst.toml"
    config.write_text(
        '[connections.acme]\ncrm = "hubspot"\n\ntoken = { env = "ACME_TOKEN" }\n',
        encoding="utf-8",
    )
    code, _, err = invoke("validate", "-c", str(config))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"{config}:4: ")
    assert "ACME_TOKEN is not set" in line
    assert "{ file = " in line


def test_root_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['servefirst', '--help']\n"
        "from servefirst.sync.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('pydantic', 'sqlalchemy', 'ruamel', 'simple_salesforce', 'hubspot',\n"
        "         'requests', 'apscheduler', 'starlette', 'uvicorn')\n"
        "print(','.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "sync" in done.stdout
    assert done.stderr.strip().splitlines()[-1:] in ([], [""])


def test_init_offers_ca_bundle_and_the_alert_webhook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-x")
    code, _, err = invoke("init", "--crm", "hubspot", str(tmp_path))
    assert code == 0, err
    text = (tmp_path / "servefirst.toml").read_text(encoding="utf-8")
    assert "# ca_bundle = " in text
    assert "# alert_webhook = { env = " in text
    code, out, err = invoke("validate", "-c", str(tmp_path / "servefirst.toml"))
    assert code == 0, err
    assert f"from {tmp_path / 'playbook.yaml'}\n" in out  # whole, on one line


def test_runs_list_wraps_a_long_connection_name_instead_of_cutting_it(tmp_path: Path) -> None:
    name = "emea-enterprise-production-eu-west"
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    run_id = store.start_run(name, "hubspot", dt.date(2026, 3, 2), dry_run=False, full_scan=True)
    store.finish_run(run_id, status=RunStatus.OK, totals=RunTotals(), duration_seconds=1.0)
    (row,) = store.list_runs()
    store.close()
    console = Console(width=80, record=True, emoji=False)
    render_runs(console, [row])
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    start = next(line.index("emea") for line in text.splitlines() if "emea" in line)
    rows = [line for line in text.splitlines() if len(line) > start and line[start] != " "]
    column = "".join(line[start:].split(" ", 1)[0] for line in rows if line[start - 1] == " ")
    assert name in column, text


def test_sync_all_carries_on_past_a_connection_another_process_is_syncing(
    two_orgs: tuple[Path, list[tuple[str, str]]],
) -> None:
    config, opened = two_orgs
    settings = load_settings(config)
    store = StateStore.open(settings.resolve_state_url())
    try:
        store.acquire_lease("us", ttl=dt.timedelta(minutes=5))  # a live run elsewhere
        code, out, err = invoke("sync", "-c", str(config), "--all", "--json")
    finally:
        store.close()
    assert code == 3, err
    documents = json.loads(out)
    assert [(d["connection"], d["status"]) for d in documents] == [("emea", "ok"), ("us", "busy")]
    assert opened == [("emea", "emea")]
    assert "already being synced" in err and "the other connections carry on" in err
