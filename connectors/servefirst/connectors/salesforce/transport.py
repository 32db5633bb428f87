"""The HTTP layer under simple-salesforce: timeouts, CA bundle, call counting and API budget.

simple-salesforce sends every request through the ``requests.Session`` it is given, but passes
no timeout on most calls and lets the ``REQUESTS_CA_BUNDLE`` environment variable override
``Session.verify``. A transport adapter sees every request whatever the call, so it is the one
place that can guarantee a timeout and the configured CA bundle, count calls exactly (retries
included: each costs the org an API request), read ``Sforce-Limit-Info`` and the ``Date``
header, and refuse a request that would take servefirst past its share of the daily budget.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from servefirst.connectors.base import ApiCalls
from servefirst.playbook.errors import BudgetExhaustedError

_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(?P<used>\d+)/(?P<max>\d+)")
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret
VERSIONS_PATH = "/services/data"
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Usage:
    """The org's daily API request usage as Salesforce last reported it."""

    used: int
    max: int


def parse_limit_info(header: str) -> Usage | None:
    """``api-usage=18/5000`` (possibly followed by ``per-app-api-usage=...``) -> Usage."""
    match = _USAGE.search(header)
    if match is None:
        return None
    return Usage(int(match["used"]), int(match["max"]))


def call_kind(method: str, url: str) -> str:
    """``auth`` for requests that cost no API budget, ``read`` for GET, ``write`` for the rest.

    The token endpoint and the unauthenticated list of API versions (which servefirst reads
    only for the org's clock) cost the org no API request.
    """
    if TOKEN_PATH in url or url.rstrip("/").endswith(VERSIONS_PATH):
        return "auth"
    return "read" if method.upper() in READ_METHODS else "write"


class CallMeter:
    """Counts calls by kind and keeps the last usage report and the server's clock; thread-safe.

    ``first_date`` is the ``Date`` of the first response this meter saw: the org's clock at
    the start of the connector's work, which is what a watermark must be (anything modified
    after it is re-read next time).
    """

    def __init__(self, budget_share: float, connection: str = "") -> None:
        self.budget_share = budget_share
        self.connection = connection
        self._lock = threading.Lock()
        self._calls = ApiCalls()
        self.usage: Usage | None = None
        self.first_date: dt.datetime | None = None

    @property
    def calls(self) -> ApiCalls:
        with self._lock:
            return ApiCalls(self._calls.read, self._calls.write, self._calls.auth)

    def allowance(self) -> int | None:
        """How many requests the org may have used before servefirst stops (None: unknown)."""
        if self.usage is None:
            return None
        return math.floor(self.usage.max * self.budget_share)

    def before(self, kind: str) -> None:
        """Count a request about to be sent, or refuse it when our share of the budget is spent.

        The share caps the org's *total* daily usage as Salesforce reports it, so that whatever
        servefirst does, other integrations keep the rest of the budget. Token requests do not
        count against the API budget and are never refused.
        """
        with self._lock:
            if kind != "auth" and self.usage is not None:
                allowance = math.floor(self.usage.max * self.budget_share)
                if self.usage.used >= allowance:
                    raise BudgetExhaustedError(
                        f"servefirst stops before using more than {self.budget_share:.0%} of the "
                        f"org's daily API requests: {self.usage.used} of {self.usage.max} are "
                        f"used and its share ends at {allowance}. The next run resumes from the "
                        "checkpoint; raise api_budget_share to let it use more",
                        connection=self.connection or None,
                    )
            setattr(self._calls, kind, getattr(self._calls, kind) + 1)

    def after(self, headers: Mapping[str, str]) -> None:
        """Read the usage report and the server's clock from a response."""
        info = headers.get("Sforce-Limit-Info")
        usage = parse_limit_info(info) if info else None
        date = _parse_http_date(headers.get("Date"))
        with self._lock:
            if usage is not None:
                self.usage = usage
            if date is not None and self.first_date is None:
                self.first_date = date


class SalesforceAdapter(HTTPAdapter):
    """Applies the timeout and CA bundle to every request and meters it."""

    def __init__(self, meter: CallMeter, *, timeout: float, ca_bundle: Path | None) -> None:
        super().__init__()
        self.meter = meter
        self.timeout = timeout
        self.ca_bundle = ca_bundle

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        self.meter.before(call_kind(str(request.method), str(request.url)))
        response = super().send(
            request,
            stream=stream,
            timeout=self.timeout if timeout is None else timeout,
            verify=str(self.ca_bundle) if self.ca_bundle is not None else verify,
            cert=cert,
            proxies=proxies,
        )
        self.meter.after(response.headers)
        return response

    def close(self) -> None:
        """Close pooled connections now.

        urllib3 2 drops its pools on ``clear()`` and leaves closing their sockets to garbage
        collection, which an exception's reference cycle can delay for a long time: the
        server then keeps a dead keep-alive connection open. Closing each pool first makes
        ``Connector.close()`` release its connections deterministically.
        """
        pools = self.poolmanager.pools
        for key in list(pools.keys()):
            pool = pools.get(key)
            if pool is not None:
                pool.close()
        super().close()


def metered_session(
    meter: CallMeter, *, timeout: float, ca_bundle: Path | None
) -> requests.Session:
    """A session whose every request goes through one metering adapter."""
    session = requests.Session()
    adapter = SalesforceAdapter(meter, timeout=timeout, ca_bundle=ca_bundle)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _parse_http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)
