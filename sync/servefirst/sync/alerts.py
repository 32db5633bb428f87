"""Alerts: a message to a Slack-compatible webhook when a run needs someone's attention.

A scheduled sync runs unattended, so a failed run, a partial one (records the CRM refused) or
an exhausted API budget would otherwise wait in the history until someone looks. A connection
with ``alert_webhook`` posts ``{"text": ...}`` (what Slack, Mattermost and most chat webhooks
accept) with the connection, the run id and the first errors, so whoever reads it can open
``servefirst runs show RUN_ID``.

The webhook URL is itself a secret (Slack's carries a token): it is read like every secret and
never logged. The text holds only what the run report holds, which never carries credentials;
as a second guard, any of the connection's own secret values is cut out before sending.
An alert that cannot be delivered is logged and never changes the run's outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import requests

from servefirst.playbook.errors import ConfigError
from servefirst.sync.engine.report import FailureKind, RunReport
from servefirst.sync.logs import log_event
from servefirst.sync.state import RunStatus

if TYPE_CHECKING:
    from pathlib import Path

    from servefirst.config.settings import HubSpotConnection, SalesforceConnection, Secret

log = logging.getLogger("servefirst.sync.alerts")

#: Record errors an alert lists before pointing at ``runs show``.
FIRST_ERRORS = 5
TIMEOUT_SECONDS = 10.0
REDACTED = "[redacted]"


def alert_text(report: RunReport) -> str | None:
    """The alert for a finished run, or ``None`` when it needs nobody (ok, or a dry run)."""
    needs_someone = (RunStatus.FAILED, RunStatus.PARTIAL, RunStatus.DEAD_LETTER)
    if report.dry_run or report.status not in needs_someone:
        return None
    if report.status is RunStatus.DEAD_LETTER:
        what = "was given up after its last retry (the message is in the dead-letter queue)"
    elif report.failure is FailureKind.BUDGET:
        what = "stopped: the daily API budget is spent"
    elif report.status is RunStatus.FAILED:
        what = "failed"
    else:
        what = f"finished with {len(report.errors)} record error(s)"
    lines = [
        f"servefirst: the sync of {report.connection} ({report.crm}) {what}. "
        f"Run {report.run_id}, as of {report.as_of.isoformat()}."
    ]
    if report.error_message:
        lines.append(report.error_message)
    lines += [f"- {p.record_id}: {p.message}" for p in report.errors[:FIRST_ERRORS]]
    more = len(report.errors) - FIRST_ERRORS
    if more > 0:
        lines.append(f"... and {more} more.")
    lines.append(f"Details: servefirst runs show {report.run_id}")
    return "\n".join(lines)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value cut out (longest first, so none leaves a tail)."""
    for value in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return text


def connection_secrets(conn: SalesforceConnection | HubSpotConnection, base_dir: Path) -> list[str]:
    """The values of a connection's secrets that can be read now (for ``redact``)."""
    candidates: list[Secret | None] = [conn.alert_webhook]
    if conn.crm == "hubspot":
        candidates.append(conn.token)
    else:
        auth = conn.auth
        candidates += [auth.private_key, auth.client_secret, auth.access_token]
    values = []
    for secret in candidates:
        if secret is None:
            continue
        try:
            values.append(secret.reveal(base_dir, "alert").get_secret_value())
        except ConfigError:
            continue
    return values


def send_alert(
    report: RunReport, conn: SalesforceConnection | HubSpotConnection, base_dir: Path
) -> bool:
    """Post the run's alert to the connection's webhook, if it has one and the run needs it.

    Returns whether an alert was delivered; never raises.
    """
    if conn.alert_webhook is None:
        return False
    text = alert_text(report)
    if text is None:
        return False
    where = {"connection": report.connection, "run_id": report.run_id}
    try:
        url = conn.alert_webhook.reveal(base_dir, f"connection {report.connection}: alert_webhook")
    except ConfigError as exc:
        log_event(log, logging.WARNING, "alert_not_sent", **where, error=str(exc))
        return False
    payload = {"text": redact(text, connection_secrets(conn, base_dir))}
    try:
        response = requests.post(url.get_secret_value(), json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        # The exception's text names the URL, which is a secret: only its kind is logged.
        log_event(log, logging.WARNING, "alert_not_sent", **where, error=type(exc).__name__)
        return False
    if response.status_code >= 300:
        log_event(
            log, logging.WARNING, "alert_not_sent", **where, error=f"HTTP {response.status_code}"
        )
        return False
    log_event(log, logging.INFO, "alert_sent", **where)
    return True
