"""A thin wrapper around ``simple_salesforce.Salesforce``: auth, retries, errors, metering.

Every operation the connector performs is one HTTP request wrapped in ``call``, which
  * logs in lazily and once, and logs in again on 401 ``INVALID_SESSION_ID`` (tokens expire);
  * retries transient failures (5xx, resets, timeouts, concurrent-limit 403) with the shared
    policy (``connectors.retry``), and never repeats a create blindly;
  * turns run-level failures into the error tree (``BudgetExhaustedError``, ``AuthError``,
    ``RetryableError``) and lets record-level ones (400, 404, 412) reach the caller, who knows
    which record they concern.
Keeping each wrapped operation to a single request makes re-running it after a retry or a new
token safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from servefirst.config.settings import SalesforceConnection
from servefirst.connectors.base import ApiCalls
from servefirst.connectors.salesforce.auth import TokenSource
from servefirst.connectors.salesforce.retry import TRANSIENT_NETWORK, RetryPolicy, translate
from servefirst.connectors.salesforce.transport import (
    VERSIONS_PATH,
    CallMeter,
    Usage,
    metered_session,
)
from servefirst.playbook.errors import AuthError, FatalSyncError

T = TypeVar("T")


class SalesforceClient:
    """One authenticated, metered, retrying simple-salesforce session for one connection."""

    def __init__(
        self,
        name: str,
        settings: SalesforceConnection,
        *,
        base_dir: Path,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.retry = retry or RetryPolicy(max_retries=settings.max_retries)
        ca_bundle = settings.ca_bundle
        if ca_bundle is not None and not ca_bundle.is_absolute():
            ca_bundle = base_dir / ca_bundle
        self.meter = CallMeter(settings.api_budget_share, name)
        self.session = metered_session(
            self.meter, timeout=settings.timeout_seconds, ca_bundle=ca_bundle
        )
        self.tokens = TokenSource(
            settings.auth,
            instance_url=settings.instance_url,
            base_dir=base_dir,
            session=self.session,
            connection=name,
        )
        self._sf: Salesforce | None = None
        self._user_id: str | None = None

    @property
    def api_calls(self) -> ApiCalls:
        return self.meter.calls

    @property
    def usage(self) -> Usage | None:
        """The org's daily API usage from the last ``Sforce-Limit-Info`` header."""
        return self.meter.usage

    def server_time(self) -> dt.datetime:
        """Salesforce's clock: the ``Date`` of the first response this client received.

        Never this machine's clock, which may run ahead of the org's and so lose edits made
        in between. Before any response, the list of API versions (no login, no API budget)
        tells it.
        """
        if self.meter.first_date is None:
            self.retry.run("server time", self._read_clock)
        if self.meter.first_date is None:
            raise FatalSyncError(
                "Salesforce sent no Date header, so servefirst cannot read the org's clock",
                connection=self.name,
            )
        return self.meter.first_date

    def _read_clock(self) -> None:
        """One GET of the versions list: whatever its status, its reply carries a ``Date``."""
        url = f"{self.settings.instance_url.rstrip('/')}{VERSIONS_PATH}/"
        try:
            self.session.get(url).close()
        except TRANSIENT_NETWORK as exc:
            translated = translate(exc, "server time", self.name, url)
            raise (translated or exc) from exc

    def call(
        self,
        what: str,
        op: Callable[[Salesforce], T],
        *,
        create: bool = False,
        lookup: Callable[[], T | None] | None = None,
    ) -> T:
        """Run one single-request operation with login, renewal, retries and translation.

        ``create`` marks an operation that must not be repeated blindly after an ambiguous
        failure; ``lookup`` finds what it may have created (see ``connectors.retry``).
        """
        return self.retry.run(what, lambda: self._once(what, op), create=create, lookup=lookup)

    def _once(self, what: str, op: Callable[[Salesforce], T]) -> T:
        try:
            try:
                return op(self._connect())
            except SalesforceExpiredSession:
                self._sf = None
                sf = self._connect()
            try:
                return op(sf)
            except SalesforceExpiredSession:
                self._sf = None
                raise AuthError(
                    f"Salesforce rejected a freshly issued token for {what}: check that the "
                    "integration user is active and the connected app is approved for it",
                    connection=self.name,
                ) from None
        except (SalesforceError, *TRANSIENT_NETWORK) as exc:
            translated = translate(exc, what, self.name, self.settings.instance_url)
            if translated is None:
                raise
            raise translated from exc

    @property
    def user_id(self) -> str | None:
        """The user servefirst runs as, when the login told (JWT and client credentials do)."""
        return self._user_id

    def _connect(self) -> Salesforce:
        if self._sf is None:
            token = self.tokens.fetch()
            self._user_id = token.user_id or self._user_id
            self._sf = Salesforce(
                instance_url=token.instance_url,
                session_id=token.access_token.get_secret_value(),
                version=self.settings.api_version,
                session=self.session,
            )
        return self._sf

    def close(self) -> None:
        """Release pooled connections; the client may still be used (it reconnects)."""
        self.session.close()


def sobject_path(*parts: str) -> str:
    """A REST path below ``/services/data/vXX.X/`` (for ``Salesforce.restful``)."""
    return "/".join(p.strip("/") for p in parts)


def restful(
    path: str, *, method: str = "GET", payload: Any = None, params: dict[str, Any] | None = None
) -> Callable[[Salesforce], Any]:
    """An operation doing one ``restful`` request (composite collections, describe...)."""

    def op(sf: Salesforce) -> Any:
        kwargs: dict[str, Any] = {}
        if payload is not None:
            kwargs["json"] = payload
        return sf.restful(path, params=params, method=method, **kwargs)

    return op


def tooling(
    method: str,
    action: str,
    data: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Callable[[Salesforce], Any]:
    """An operation doing one Tooling API request (``tooling/<action>``) for provisioning."""

    def op(sf: Salesforce) -> Any:
        kwargs: dict[str, Any] = {"params": params} if params else {}
        return sf.toolingexecute(action, method=method, data=data, **kwargs)

    return op
