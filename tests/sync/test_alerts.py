"""Alert webhooks, received by a local HTTP server standing in for Slack.

Runs go through ``servefirst sync`` (Typer's runner) on the in-memory CRM, or on the HubSpot
sandbox with the real client for the token test; the receiver records every JSON body posted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from servefirst.connectors.hubspot.sandbox import start_sandbox as start_hubspot
from servefirst.playbook.errors import AuthError, BudgetExhaustedError
from servefirst.playbook.model import Engagement
from servefirst.sync.cli import app
from servefirst.sync.connectors import ConnectionSettings

if TYPE_CHECKING:
    from tests.sync.conftest import FakeConnector

runner = CliRunner()
Make = Callable[..., Engagement]
HOOK_SECRET = "T000/B000/hook-secret-part"


class Receiver:
    """A local webhook: keeps each posted JSON body; answers ``status``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(received.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{HOOK_SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.fixture
def config(
    tmp_path: Path,
    fake: FakeConnector,
    make: Make,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("ACME_HOOK", receiver.url)
    monkeypatch.setenv("ACME_HS_TOKEN", "pat-na1-token-value-1234")
    path = tmp_path / "servefirst.toml"
    path.write_text(
        "[connections.acme]\n"
        'crm = "hubspot"\n'
        'token = { env = "ACME_HS_TOKEN" }\n'
        'alert_webhook = { env = "ACME_HOOK" }\n',
        encoding="utf-8",
    )
    fake.add(make("E1"))
    fake.add(make("E2", sponsor=False))

    def connect(name: str, conn: ConnectionSettings, playbook: object, base_dir: Path) -> object:
        return fake

    monkeypatch.setattr("servefirst.sync.service.open_connector", connect)
    return path


def sync(config: Path, *extra: str) -> int:
    result = runner.invoke(app, ["sync", "-c", str(config), "--json", *extra])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code


def test_a_good_run_and_a_dry_run_send_nothing(
    config: Path, fake: FakeConnector, receiver: Receiver
) -> None:
    assert sync(config) == 0
    fake.pull_error = AuthError("the token was refused", connection="acme")
    assert sync(config, "--dry-run") == 3
    assert receiver.bodies == []


def test_a_partial_run_posts_its_run_id_and_first_errors(
    config: Path, fake: FakeConnector, receiver: Receiver
) -> None:
    fake.refuse["E2"] = "INVALID_FIELD: no such value"
    assert sync(config) == 1
    (body,) = receiver.bodies
    assert set(body) == {"text"}  # Slack's incoming-webhook shape
    text = body["text"]
    assert "the sync of acme" in text and "record error(s)" in text
    assert "- E2: INVALID_FIELD: no such value" in text
    assert "servefirst runs show 1" in text


def test_a_failed_run_and_a_spent_budget_are_told_apart(
    config: Path, fake: FakeConnector, receiver: Receiver
) -> None:
    fake.pull_error = AuthError("the token was refused", connection="acme")
    assert sync(config) == 3
    fake.pull_error = BudgetExhaustedError("the daily limit is reached", connection="acme")
    assert sync(config) == 3
    failed, budget = (b["text"] for b in receiver.bodies)
    assert "failed" in failed and "the token was refused" in failed and "Run 1" in failed
    assert "daily API budget is spent" in budget and "Run 2" in budget


def test_secrets_never_reach_the_webhook(
    config: Path, fake: FakeConnector, receiver: Receiver
) -> None:
    # A CRM that echoes the token in its error must not get it into the alert.
    fake.pull_error = AuthError("token pat-na1-token-value-1234 is invalid", connection="acme")
    assert sync(config) == 3
    text = json.dumps(receiver.bodies)
    assert "pat-na1-token-value-1234" not in text
    assert "hook-secret-part" not in text
    assert "[redacted]" in text


def test_an_undeliverable_alert_is_logged_without_its_url_and_the_run_stands(
    config: Path, fake: FakeConnector, receiver: Receiver
) -> None:
    receiver.status = 500
    fake.refuse["E2"] = "INVALID_FIELD: no such value"
    result = runner.invoke(app, ["sync", "-c", str(config), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "partial"
    assert "alert_not_sent" in result.stderr and "HTTP 500" in result.stderr
    assert "hook-secret-part" not in result.stderr


def test_an_expired_hubspot_token_alerts_without_the_token(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = start_hubspot(workdir=tmp_path / "hs", seed="demo")
    try:
        expired = sandbox.admin.call("POST", "/tokens", {"expired": True})["token"]
        (tmp_path / "token.txt").write_text(expired, encoding="utf-8")
        monkeypatch.setenv("HOOK", receiver.url)
        config = tmp_path / "servefirst.toml"
        config.write_text(
            f"state_url = {json.dumps('sqlite:///' + str(tmp_path / 'state.db'))}\n"
            "[connections.portal]\n"
            'crm = "hubspot"\n'
            f"base_url = {json.dumps(sandbox.url)}\n"
            f"token = {{ file = {json.dumps(str(tmp_path / 'token.txt'))} }}\n"
            'alert_webhook = { env = "HOOK" }\n',
            encoding="utf-8",
        )
        assert sync(config) == 3
    finally:
        sandbox.stop()
    (body,) = receiver.bodies
    assert "rejected the private-app token" in body["text"]
    assert expired not in body["text"]
    assert "hook-secret-part" not in body["text"]
