"""``init``, ``validate`` and ``playbook show|check``: working with the playbook before syncing.

``playbook check`` lets RevOps try a rule change on one engagement, as neutral JSON, without
touching any CRM.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servefirst.sync.cli.app import Exit, app
from servefirst.sync.cli.common import (
    ConfigOption,
    config_errors,
    console,
    err_console,
    fail,
    parse_date,
)
from servefirst.sync.cli.output import plain

if TYPE_CHECKING:
    from servefirst.config.settings import HubSpotConnection, SalesforceConnection, Secret, Settings
    from servefirst.playbook.definition import Playbook
    from servefirst.playbook.model import Assessment, Engagement, Finding

playbook_app = typer.Typer(no_args_is_help=True, help="Read and try out the playbook.")
app.add_typer(playbook_app, name="playbook")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path(),
    crm: Annotated[str, typer.Option(help="salesforce or hubspot")] = "salesforce",
) -> None:
    """Write a commented servefirst.toml and a copy of the default playbook; never overwrite."""
    from servefirst.config.loader import builtin_playbook  # noqa: PLC0415 - keeps `--help` fast
    from servefirst.config.private import write_private  # noqa: PLC0415

    if crm not in ("salesforce", "hubspot"):
        fail(f"--crm must be salesforce or hubspot, not {crm!r}", Exit.USAGE)
    config = directory / "servefirst.toml"
    playbook = directory / "playbook.yaml"
    existing = [p for p in (config, playbook) if p.exists()]
    if existing:
        names = ", ".join(str(p) for p in existing)
        fail(f"{names} already exist(s); servefirst init never overwrites files", Exit.USAGE)
    directory.mkdir(parents=True, exist_ok=True)
    template = resources.files("servefirst.config") / "templates" / f"{crm}.toml"
    write_private(config, template.read_text(encoding="utf-8"))
    write_private(playbook, builtin_playbook("prime").read_text(encoding="utf-8"))
    console.print(plain(f"Wrote {config} and {playbook}."))
    console.print("Next: fill in the connection, then run `servefirst validate`.")


@app.command()
def validate(config: ConfigOption = None) -> None:
    """Check the config and its playbooks; exit 2 with one `file:line: message` per problem."""
    from servefirst.config.loader import (  # noqa: PLC0415 - keeps `--help` fast
        ConfigFileError,
        load_playbook,
        load_settings,
        playbook_source,
        playbook_warnings,
        stage_map_problems,
    )
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415

    with config_errors():
        settings = load_settings(config)
        problems: list[str] = []
        playbooks: dict[Path, Playbook] = {}
        # Each connection's playbook (the top-level one when none is configured), once each.
        names: list[str | None] = [*settings.connections] or [None]
        for name in names:
            source = playbook_source(settings, name)
            if source in playbooks:
                continue
            try:
                playbooks[source] = load_playbook(settings, name)
            except ConfigFileError as exc:
                problems.extend(exc.problems)
            except ConfigError as exc:
                problems.append(str(exc))
        if not problems:
            problems.extend(stage_map_problems(settings, config))
        problems.extend(_secret_problems(settings, config))
        if problems:
            raise ConfigFileError(problems)
    # One line each, never wrapped: file paths stay whole for copying.
    for source, playbook in playbooks.items():
        for warning in playbook_warnings(playbook, source):
            err_console.print(plain(warning))
        console.print("ok", style="green", end="")
        console.print(
            plain(
                f": playbook {playbook.name!r} ({len(playbook.stages)} stages, "
                f"{sum(r.enabled for r in playbook.rules.values())} rules enabled) from {source}"
            ),
            soft_wrap=True,
        )
    for name, conn in settings.connections.items():
        console.print(
            plain(f"  connection {name}: {conn.crm}, playbook {playbook_source(settings, name)}"),
            soft_wrap=True,
        )


def _secret_problems(settings: Settings, config: Path | None) -> list[str]:
    """Secrets that cannot be read now, as ``file:line: message``: caught now, not at 3 a.m."""
    from servefirst.config.loader import config_path  # noqa: PLC0415
    from servefirst.config.locate import format_problem, toml_line  # noqa: PLC0415
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415

    path = config_path(config)
    text = path.read_text(encoding="utf-8")
    problems = []
    for name, conn in settings.connections.items():
        for loc, secret in _secrets(conn):
            what = ".".join(loc)
            try:
                secret.reveal(settings.base_dir, f"connection {name}: {what}")
            except ConfigError as exc:
                line = toml_line(text, ("connections", name, *loc))
                problems.append(format_problem(path, line, str(exc)))
    return problems


def _secrets(
    conn: SalesforceConnection | HubSpotConnection,
) -> list[tuple[tuple[str, ...], Secret]]:
    from servefirst.config.settings import HubSpotConnection  # noqa: PLC0415

    if isinstance(conn, HubSpotConnection):
        return [(("token",), conn.token)]
    auth = conn.auth
    candidates = {
        "private_key": auth.private_key,
        "client_secret": auth.client_secret,
        "access_token": auth.access_token,
    }
    return [(("auth", k), v) for k, v in candidates.items() if v is not None]


PlaybookOption = Annotated[
    Path | None,
    typer.Option(
        "--playbook", "-p", help="A playbook YAML file (overrides the config's).", dir_okay=False
    ),
]


def _playbook(config: Path | None, playbook_file: Path | None) -> Playbook:
    from servefirst.config.loader import (  # noqa: PLC0415 - keeps `--help` fast
        builtin_playbook,
        load_playbook,
        load_playbook_file,
        load_settings,
    )
    from servefirst.playbook.errors import ConfigError  # noqa: PLC0415

    with config_errors():
        if playbook_file is not None:
            return load_playbook_file(playbook_file)
        try:
            return load_playbook(load_settings(config))
        except ConfigError:
            if config is not None:
                raise
            return load_playbook_file(builtin_playbook("prime"))


@playbook_app.command("show")
def show(config: ConfigOption = None, playbook_file: PlaybookOption = None) -> None:
    """Print the stages with their guidance, then each rule and what the rep reads."""
    from rich.padding import Padding  # noqa: PLC0415 - keeps `--help` fast
    from rich.table import Table  # noqa: PLC0415

    playbook = _playbook(config, playbook_file)
    console.print(
        plain(f"Playbook {playbook.name}  (delivery lead {playbook.delivery_lead_days} days)"),
        style="bold",
    )
    stages = Table(title="Stages", show_lines=True)
    stages.add_column("stage", overflow="fold")
    stages.add_column("typical days", justify="right")
    stages.add_column("guidance for the rep", overflow="fold")
    for stage in playbook.stages:
        stages.add_row(
            plain(f"{stage.label} ({stage.key})"),
            str(stage.typical_days),
            plain(stage.guidance.strip()),
        )
    console.print(stages)
    # A rule's message is a long sentence with {placeholders}: a table column would cut them
    # at 80 columns, so each rule is a heading line and its message, wrapped, below it.
    console.print()
    console.print("Rules", style="bold")
    for rule_id, rule in playbook.rules.items():
        action = rule.action.value + (" + autofill" if rule.autofill else "")
        state = "" if rule.enabled else ", off"
        heading = (
            f"{rule_id}  ({rule.severity.value}, {action}, {_applies(rule_id, playbook)}{state})"
        )
        if rule.label:
            heading = f"{rule.label}: {heading}"
        console.print(plain(heading), style="bold" if rule.enabled else "dim")
        console.print(Padding(plain(rule.message.strip()), (0, 0, 1, 4)))
    if playbook.task_groups:
        console.print("Task groups (findings one action fixes share one task)", style="bold")
        for key, group in playbook.task_groups.items():
            console.print(plain(f"{group.label} ({key}): {group.task_title}"), style="bold")
            console.print(Padding(plain(", ".join(group.rules)), (0, 0, 1, 4)))
    policy = playbook.waivers
    console.print(
        plain(
            f"Waivers: written by {policy.who_may_waive}, at most {policy.max_days} days ahead, "
            "one per line: NAME until YYYY-MM-DD: why"
        )
    )


def _applies(rule_id: str, playbook: Playbook) -> str:
    rule = playbook.rules[rule_id]
    parts = []
    if rule.from_stage:
        parts.append(f"from {playbook.stage(rule.from_stage).label}")
    for name in ("min_days_after_po", "confirm_within_days", "max_slips"):
        value = getattr(rule, name)
        if value is not None:
            parts.append(f"{name}={value}")
    return ", ".join(parts) or "always"


@playbook_app.command("check")
def check(
    engagement_file: Annotated[
        Path, typer.Argument(help="Neutral engagement JSON (one or a list).", dir_okay=False)
    ],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Evaluate on this date (YYYY-MM-DD).")
    ] = None,
    slips: Annotated[int, typer.Option(help="Times the Operational Date has slipped.", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False,
    config: ConfigOption = None,
    playbook_file: PlaybookOption = None,
) -> None:
    """Evaluate engagements given as neutral JSON and print their findings."""
    from servefirst.playbook.evaluate import evaluate  # noqa: PLC0415 - keeps `--help` fast

    playbook = _playbook(config, playbook_file)
    day = parse_date(as_of)
    engagements, problems = read_engagements(engagement_file, playbook)
    for problem in problems:
        err_console.print(plain(problem))
    assessments = [evaluate(e, playbook, day, slips=slips) for e in engagements]
    if as_json:
        typer.echo(
            json.dumps(
                [_assessment_json(e, a) for e, a in zip(engagements, assessments, strict=True)],
                indent=2,
            )
        )
    else:
        for engagement, assessment in zip(engagements, assessments, strict=True):
            print_assessment(engagement, assessment)
    if problems:
        raise typer.Exit(int(Exit.RECORD_ERRORS if engagements else Exit.USAGE))


def read_engagements(path: Path, playbook: Playbook) -> tuple[list[Engagement], list[str]]:
    """Engagements from a JSON file; each bad record is reported and skipped.

    Records are numbered from 1 in file order; each bad field is named once, with its path
    (``record 3 (ENG-3): po_date: ...``), and a stage the playbook does not have is refused.
    """
    from pydantic import ValidationError  # noqa: PLC0415 - keeps `--help` fast

    from servefirst.config.locate import problems_from  # noqa: PLC0415
    from servefirst.playbook.definition import CLOSED_STAGES  # noqa: PLC0415
    from servefirst.playbook.model import Engagement  # noqa: PLC0415

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{path}: no such file", Exit.USAGE)
    except json.JSONDecodeError as exc:
        fail(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}", Exit.USAGE)
    records = data if isinstance(data, list) else [data]
    engagements: list[Engagement] = []
    problems: list[str] = []
    stages = [s.key for s in playbook.stages] + list(CLOSED_STAGES)
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            problems.append(f"{path}: record {number}: expected a JSON object; skipped")
            continue
        where = f"{path}: record {number}" + (f" ({record['id']})" if "id" in record else "")
        try:
            engagement = Engagement.model_validate(_neutral(record))
        except ValidationError as exc:
            seen: set[str] = set()
            for _, message in problems_from(exc):
                if message not in seen:
                    seen.add(message)
                    problems.append(f"{where}: {message}; skipped")
            continue
        if engagement.stage is not None and engagement.stage not in stages:
            problems.append(
                f"{where}: stage: {engagement.stage!r} is not a stage of playbook "
                f"{playbook.name!r}; use one of: {', '.join(stages)}; skipped"
            )
            continue
        engagements.append(engagement)
    return engagements, problems


def _neutral(record: dict[str, Any]) -> dict[str, Any]:
    """Friendly input: ``crm`` optional, success criteria as checklist text allowed."""
    from servefirst.playbook.checklist import parse_checklist  # noqa: PLC0415

    record = {"crm": "json", **record}
    criteria = record.get("success_criteria")
    if isinstance(criteria, str):
        record["success_criteria"] = [c.model_dump() for c in parse_checklist(criteria)]
    return record


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "group": f.group,
        "severity": f.severity.value,
        "action": f.action.value,
        "message": f.message,
        "fix": f.fix,
        "recommended_po_date": _iso(f.recommended_po_date),
        "recommended_operational_date": _iso(f.recommended_operational_date),
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _assessment_json(engagement: Engagement, assessment: Assessment) -> dict[str, Any]:
    desired = assessment.desired
    return {
        "id": engagement.id,
        "name": engagement.name,
        "stage": engagement.stage or engagement.raw_stage,
        "health": assessment.health.value if assessment.health else None,
        "findings": [_finding_json(f) for f in assessment.findings],
        "waived": [
            {**_finding_json(w.finding), "until": w.until.isoformat(), "reason": w.reason}
            for w in assessment.waived
        ],
        "waiver_problems": list(assessment.waiver_problems),
        "tasks": [
            {"key": t.key, "subject": t.subject, "due": t.due.isoformat(), "rules": list(t.rules)}
            for t in assessment.tasks
        ],
        "findings_text": desired.findings if desired else None,
        "timetable": desired.timetable if desired else None,
        "date_sensitive": assessment.date_sensitive,
    }


_HEALTH_STYLE = {"on_track": "green", "at_risk": "yellow", "off_track": "red"}


def print_assessment(engagement: Engagement, assessment: Assessment) -> None:
    """One engagement's verdict, for a human; CRM text is printed as it is."""
    if assessment.health is None:
        console.print(
            plain(f"{engagement.name} ({engagement.id}): closed lost, not evaluated"), style="dim"
        )
        return
    stage = engagement.stage or engagement.raw_stage
    line = plain(f"{engagement.name} ({engagement.id}, {stage}): ")
    line.stylize("bold", 0, len(engagement.name))
    line.append(assessment.health.value, style=_HEALTH_STYLE[assessment.health.value])
    console.print(line)
    for finding in assessment.findings:
        mark = ("✗", "red") if finding.severity.value == "error" else ("!", "yellow")
        text = plain("  ")
        text.append(mark[0], style=mark[1])
        text.append(f" {finding.message}")
        console.print(text)
        console.print(plain(f"     → {finding.fix} ({finding.rule})"), style="dim")
    for waived in assessment.waived:
        console.print(
            plain(
                f"  waived until {waived.until}: {waived.finding.message} "
                f"({waived.finding.rule}; {waived.reason})"
            ),
            style="dim",
        )
    for problem in assessment.waiver_problems:
        console.print(plain(f"  waiver: {problem}"), style="yellow")
