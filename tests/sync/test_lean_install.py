"""A plain install (no extras) runs production commands against a CRM it did not bring along.

The wheel is built from this checkout and installed into a fresh virtual environment without
extras, the way an operator installs servefirst on a server. A HubSpot sandbox is started from
the project's own environment (which has the ``sandbox`` extra), and the lean install syncs
against it over HTTP. The lean install must not have the sandboxes' web stack, and must say
which extra to install when asked for a sandbox or the demo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh environment with the wheel installed, no extras."""
    base = tmp_path_factory.mktemp("lean")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = base.glob("servefirst-*.whl")
    venv.create(base / "venv", with_pip=True)
    bin_dir = base / "venv" / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return bin_dir


@pytest.fixture
def hubspot_sandbox(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A demo HubSpot sandbox served by the project's environment, in its own process."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "servefirst"),
            "sandbox",
            "serve",
            "--crm",
            "hubspot",
            "--dir",
            str(tmp_path / "sandbox"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready: dict[str, str] = json.loads(process.stdout.readline())
        yield ready
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SERVEFIRST_")}


def test_a_plain_install_has_no_web_stack_and_names_the_extra(lean: Path) -> None:
    python = str(lean / "python")
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('starlette', 'uvicorn', 'trustme') if u.find_spec(m)])"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    for command in (["demo"], ["sandbox", "serve", "--crm", "hubspot"]):
        done = subprocess.run(
            [str(lean / "servefirst"), *command],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "pip install 'servefirst[sandbox]'" in done.stderr


def test_a_plain_install_syncs_against_a_sandbox_from_another_environment(
    lean: Path, hubspot_sandbox: dict[str, str]
) -> None:
    done = subprocess.run(
        [str(lean / "servefirst"), "sync", "-c", hubspot_sandbox["config"], "--json"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "ok"
    assert report["counts"]["engagements_read"] > 0
