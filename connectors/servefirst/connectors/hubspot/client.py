"""One HubSpot portal seen through hubspot-api-client: cached APIs, pacing, retries, counts.

Every request the connector makes goes through ``HubSpotClient.call`` so that four policies hold
everywhere without each call site remembering them:

* **Cached API objects.** Each attribute access such as ``client.crm.deals.batch_api`` builds a
  new ``ApiClient`` with its own urllib3 pool; ``api()`` builds each one once.
* **One retry policy, shared with Salesforce** (``connectors.retry``). urllib3's Retry is set
  to ``total=0`` (its default never retries POST/PATCH, so 429s on search and batch calls would
  surface half-handled): a ten-second/secondly 429 is retried after the interval HubSpot's
  headers give, 5xx and broken connections with exponential backoff and jitter, at most
  ``max_retries`` times; certificate, DNS and refused-connection failures name the host and
  the fix at once. A daily 429 raises ``BudgetExhaustedError`` at once: retrying cannot succeed
  before tomorrow. Creates are never repeated blindly (see ``call``).
* **Pacing before each call** (see ``limits.Pacer``) and a timeout of ``timeout_seconds``.
* **Counts** of read and write requests (every attempt: each one spends budget), and the
  ``Date`` of the first reply, which is the portal's clock for watermarks.

Errors leave this module already translated into servefirst's error tree; messages carry the
status and HubSpot's reply body, never request headers (which hold the token).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import hubspot
import urllib3
from pydantic import SecretStr

from servefirst.connectors.base import ApiCalls
from servefirst.connectors.hubspot.limits import Pacer, RateHeaders, classify_429
from servefirst.connectors.network import failure
from servefirst.connectors.retry import RetryPolicy, retry_after
from servefirst.playbook.errors import (
    AuthError,
    BudgetExhaustedError,
    FatalSyncError,
    RetryableError,
)

log = logging.getLogger(__name__)

CallKind = Literal["read", "write"]
T = TypeVar("T")


class HubSpotRequestError(FatalSyncError):
    """HubSpot refused a request for a reason retrying will not fix (400, 404, 409 ...).

    A fatal error by default: callers that expect per-record failures (a 404 on one record, a
    409 on a create that raced another writer) catch it and look at ``status``/``category``.
    """

    def __init__(self, message: str, *, status: int, category: str, body: str, **kw: Any) -> None:
        super().__init__(message, response=body[:2000], **kw)
        self.status = status
        self.category = category
        self.body = body


class RateLimitedError(RetryableError):
    """A 429 for the ten-second window or the search limit: HubSpot did nothing, retry later."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(message, applied=False, **kw)


@dataclass(frozen=True)
class _Paced:
    """The pacer as the retry policy's limiter: a turn before each attempt, and its sleep."""

    pacer: Pacer
    search: bool | None  # None: the attempt paces its own requests

    def acquire(self) -> None:
        if self.search is not None:
            self.pacer.before(search=self.search)

    def sleep(self, seconds: float) -> None:
        self.pacer.sleep(seconds)


def error_message(body: str) -> tuple[str, str]:
    """HubSpot's ``(category, message)`` from an error body; tolerant of HTML and empty bodies."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return "", body.strip()[:300]
    if not isinstance(parsed, dict):
        return "", str(parsed)[:300]
    return str(parsed.get("category") or ""), str(parsed.get("message") or "")


class HubSpotClient:
    """The connector's only door to HubSpot.

    Args:
        token: the private-app access token (kept inside the client library's configuration).
        base_url: ``https://api.hubapi.com`` or a sandbox's URL.
        connection: the connection's name, for error messages.
        timeout_seconds: every request's total timeout.
        max_retries: retries after the first attempt, for any retryable failure.
        pacer: the rate-limit pacer; its sleep is also used to wait between retries.
        client_side_validation: make the client check required fields and enums (tests).
        ca_bundle: the PEM file of CAs to trust instead of the system's (a TLS proxy, a
            sandbox).
        retry: the retry policy (default: the shared one with ``max_retries``).
    """

    def __init__(
        self,
        *,
        token: SecretStr,
        base_url: str,
        connection: str,
        timeout_seconds: float,
        max_retries: int,
        pacer: Pacer,
        client_side_validation: bool = False,
        ca_bundle: Path | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection = connection
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.retry = retry or RetryPolicy(max_retries=max_retries)
        self.pacer = pacer
        self.calls = ApiCalls()
        self._counting = threading.Lock()  # a pull calls from several threads
        self._first_date: dt.datetime | None = None
        tls = {"ssl_ca_cert": str(ca_bundle)} if ca_bundle is not None else {}
        self._client = hubspot.Client.create(
            access_token=token.get_secret_value(),
            host=self.base_url,
            retry=urllib3.Retry(total=0, redirect=0, raise_on_status=False),
            client_side_validation=client_side_validation,
            **tls,
        )
        self._apis: dict[str, Any] = {}
        self._errors: dict[str, tuple[type[BaseException], ...]] = {}

    def __repr__(self) -> str:
        return f"HubSpotClient(connection={self.connection!r})"

    def api(self, path: str) -> Any:
        """The API object at ``path`` below the client (e.g. ``"crm.deals.search_api"``), cached."""
        api = self._apis.get(path)
        if api is None:
            with self._counting:  # a pull reads from several threads: build each API once
                api = self._apis.get(path)
                if api is None:
                    api = self._client
                    for part in path.split("."):
                        api = getattr(api, part)
                    package = type(api).__module__.rsplit(".api.", 1)[0]
                    exceptions = importlib.import_module(f"{package}.exceptions")
                    self._errors[path] = (exceptions.ApiException,)
                    self._apis[path] = api
        return api

    def model(self, path: str, cls: Any, **values: Any) -> Any:
        """A request model bound to the API's configuration.

        A model built without one copies the default ``Configuration`` (slow: it rebuilds
        loggers), and would ignore the client's ``client_side_validation`` setting.
        """
        return cls(local_vars_configuration=self.api(path).api_client.configuration, **values)

    def call(
        self,
        kind: CallKind,
        path: str,
        method: str,
        *args: Any,
        search: bool = False,
        create: bool = False,
        lookup: Callable[[], Any] | None = None,
        raw: bool = False,
        what: str = "",
        **kwargs: Any,
    ) -> Any:
        """Call ``method`` of the API at ``path`` with pacing, timeout, retries and counting.

        Returns the client's model of the reply (``None`` for an empty 204), or with
        ``raw=True`` the reply's JSON as plain dicts. The data path (searches, batch reads and
        writes) uses ``raw``: the client's model deserializer parses every ``createdAt`` and
        ``updatedAt`` with dateutil, which made it two thirds of a pull's CPU time; request
        bodies are still the client's models, so client-side validation still applies.
        ``what`` names the object in error messages (e.g. ``"deals batch update"``).
        ``create=True`` marks a request that creates something: after an ambiguous failure
        (a 5xx or a broken connection: the create may have happened) it is sent again only
        when ``lookup`` (which finds the created thing by its natural key) finds nothing; without
        a lookup it is not retried and the caller checks. Rate-limit refusals, which HubSpot
        answers before doing anything, are retried as for any request.
        """
        api = self.api(path)
        bound: Callable[..., Any] = getattr(api, f"{method}_with_http_info")
        label = what or f"{path}.{method}"
        if raw:
            kwargs["_preload_content"] = False
        send = functools.partial(bound, *args, _request_timeout=self.timeout_seconds, **kwargs)
        return self.retry.run(
            label,
            functools.partial(self._attempt, send, kind=kind, path=path, label=label, raw=raw),
            limiter=_Paced(self.pacer, search),
            create=create,
            lookup=lookup,
        )

    def step(self, what: str, run: Callable[[], T]) -> T:
        """Retry a multi-request step that is safe to repeat whole, because it reads first.

        Opening tasks is such a step: each attempt reads the tasks that exist before creating
        the missing ones, so a create whose reply was lost is found, not repeated. Each request
        inside is paced and counted by ``call``; only the waits between attempts happen here.
        """
        return self.retry.run(what, run, limiter=_Paced(self.pacer, search=None))

    def _attempt(
        self,
        send: Callable[[], Any],
        *,
        kind: CallKind,
        path: str,
        label: str,
        raw: bool,
    ) -> Any:
        with self._counting:
            if kind == "read":
                self.calls.read += 1
            else:
                self.calls.write += 1
        try:
            if raw:
                response = send()
                try:
                    body = response.data
                    headers = response.headers
                finally:
                    response.release_conn()
                data = _json(body, label)
            else:
                data, _status, headers = send()
        except self._errors[path] as exc:
            raise self._translate(exc, label) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise failure(exc, self.base_url, f"HubSpot {label}", self.connection) from None
        self._observe(headers)
        return data

    def _observe(self, headers: Any) -> None:
        if not headers:
            return
        self.pacer.observe(RateHeaders.parse(headers))
        date = headers.get("Date")
        if date and self._first_date is None:
            with contextlib.suppress(TypeError, ValueError), self._counting:
                if self._first_date is None:
                    self._first_date = parsedate_to_datetime(date).astimezone(dt.UTC)

    def _translate(self, exc: Any, label: str) -> Exception:
        """Turn one of the client's ``ApiException`` into the servefirst error the engine needs."""
        status = int(getattr(exc, "status", 0) or 0)
        raw = getattr(exc, "body", None)
        body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        headers = getattr(exc, "headers", None)
        self._observe(headers)
        rate = RateHeaders.parse(headers)
        category, message = error_message(body)
        where: dict[str, str | None] = {"connection": self.connection, "crm_object": label}
        if status == 429:
            verdict = classify_429(body, rate)
            if verdict.daily:
                return BudgetExhaustedError(
                    "HubSpot's daily API limit for this portal is reached; the run stops and "
                    "resumes from its checkpoint when the limit resets",
                    response=body[:500],
                    **where,
                )
            return RateLimitedError(
                f"HubSpot rate limit ({verdict.policy})",
                retry_after=verdict.wait_seconds,
                response=body[:500],
                connection=self.connection,
                crm_object=label,
            )
        if status == 0:
            return failure(exc, self.base_url, f"HubSpot {label}", self.connection)
        if status >= 500:
            return RetryableError(
                f"HubSpot answered {status} to {label}",
                retry_after=retry_after(headers),
                connection=self.connection,
            )
        if status == 401:
            return AuthError(
                "HubSpot rejected the private-app token: check the token setting of this "
                "connection (it may be revoked or expired)",
                response=body[:500],
                **where,
            )
        if status == 403:
            return AuthError(
                "the private app lacks a scope this call needs: add the scopes named in "
                "HubSpot's reply to the app",
                response=body[:1000],
                **where,
            )
        return HubSpotRequestError(
            f"HubSpot answered {status}{f' {category}' if category else ''}: {message}",
            status=status,
            category=category,
            body=body,
            **where,
        )

    def server_time(self) -> dt.datetime:
        """The portal's clock: the ``Date`` of the first reply this client received.

        Never this machine's clock, which may run ahead of HubSpot's and so lose edits made in
        between. Before any reply, one cheap read (the deal pipelines) fetches it.
        """
        if self._first_date is None:
            self.call(
                "read", "crm.pipelines.pipelines_api", "get_all", "deals", raw=True, what="clock"
            )
        if self._first_date is None:
            raise FatalSyncError(
                "HubSpot sent no Date header, so servefirst cannot read the portal's clock",
                connection=self.connection,
            )
        return self._first_date

    @property
    def server_date(self) -> dt.datetime | None:
        """The first reply's ``Date`` header, without a request (``None`` before any reply)."""
        return self._first_date

    def close(self) -> None:
        """Close every cached API's connections (``ApiClient.close`` only stops its threads)."""
        for api in self._apis.values():
            api_client = getattr(api, "api_client", None)
            if api_client is not None:
                api_client.close()
                api_client.rest_client.pool_manager.clear()
        self._apis.clear()


def _json(body: bytes, label: str) -> Any:
    """A raw reply's JSON (``None`` for an empty body, e.g. a 204)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise RetryableError(f"{label}: HubSpot sent a reply that is not JSON") from None
