"""The documents a newcomer reads: every link resolves inside the repository, and what the
deployment files run exists.

The README once linked documents outside the repository; a reader of a clone or of the
package page found nothing there.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from servefirst.config.settings import (
    HubSpotConnection,
    HubSpotFields,
    SalesforceAuth,
    SalesforceConnection,
    SalesforceFields,
    Schedule,
    Secret,
    Settings,
)
from servefirst.sync.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("document", DOCS, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path = target.split("#", 1)[0]
        if not path:
            continue
        resolved = (document.parent / path).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} links outside: {target}"
        assert resolved.exists(), f"{document.name} links a missing file: {target}"
    assert "/work/" not in text and "shared/docs" not in text


def test_the_onboarding_documents_exist_and_are_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("salesforce", "hubspot", "deployment", "configuration", "sandbox", "architecture"):
        assert f"docs/{name}.md" in readme


def test_the_configuration_reference_names_every_key() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    models: list[type[BaseModel]] = [
        Settings,
        Schedule,
        Secret,
        SalesforceConnection,
        SalesforceAuth,
        SalesforceFields,
        HubSpotConnection,
        HubSpotFields,
    ]
    for model in models:
        for name in model.model_fields:
            if name == "base_dir":
                continue
            forms = (f"`{name}`", f".{name}]", f"[{name}.", f"{name} (", f"{{ {name} =")
            assert any(form in reference for form in forms), f"{model.__name__}.{name}"


def _commands(line: str) -> list[str]:
    words = line.split()
    return [w for w in words if not w.startswith("-") and "/" not in w and w != "servefirst"]


def test_the_deployment_files_run_commands_that_exist() -> None:
    unit = (ROOT / "deploy" / "servefirst.service").read_text(encoding="utf-8")
    health = (ROOT / "deploy" / "servefirst-health.service").read_text(encoding="utf-8")
    container = (ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    lines = [
        line.split("=", 1)[1]
        for line in (unit + health).splitlines()
        if line.startswith(("ExecStart=", "ExecStartPre="))
    ]
    lines += [
        " ".join(re.findall(r'"([^"]+)"', m)) for m in re.findall(r"CMD \[([^\]]+)\]", container)
    ]
    assert len(lines) == 5, lines
    runner = CliRunner()
    for line in lines:
        command = _commands(line)
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, f"{line}: {result.output}"
    assert "servefirst run" in " ".join(lines) and "health" in " ".join(lines)
    assert "[project]" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "starlette" not in " ".join(extras["dependencies"])
    assert "starlette" in " ".join(extras["optional-dependencies"]["sandbox"])
