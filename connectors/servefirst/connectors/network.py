"""What a failed HTTP request means, whichever library raised it (requests, urllib3, ssl, socket).

Both connectors meet the same network failures wrapped differently: simple-salesforce goes
through requests, which wraps urllib3, which wraps ``ssl`` and ``socket``; hubspot-api-client
calls urllib3 directly and sometimes re-raises its own ``ApiException`` with the original as
context. ``failure`` walks the whole chain and answers with one servefirst error:

* a certificate that does not verify, a TLS handshake that fails, a host DNS cannot resolve,
  a refused connection: an ``UnreachableError`` naming host, port and the fix, which the retry
  policy does not retry (a refused connection gets a few seconds, see ``retry``);
* a connect timeout: retryable, and the request was certainly not carried out;
* anything else (reset, read timeout, truncated reply): retryable, but the CRM may have
  carried the request out, which matters for creates.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
import urllib3

from servefirst.playbook.errors import (
    CertificateError,
    HostNotFoundError,
    RefusedConnectionError,
    RetryableError,
    ServeFirstError,
    TlsError,
)

#: Exceptions that mean a request failed on the network rather than with an HTTP answer.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    OSError,
)
_DEFAULT_PORTS = {"https": 443, "http": 80}


def host_port(url: str) -> tuple[str, int | None]:
    """The host and port a URL connects to (the scheme's default port when none is given)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or url, port or _DEFAULT_PORTS.get(parts.scheme)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, ``reason`` and exception arguments."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        inner += list(current.args)
        pending.extend(e for e in inner if isinstance(e, BaseException))


def failure(
    exc: BaseException, url: str, what: str, connection: str | None = None
) -> ServeFirstError:
    """The servefirst error a network failure of a request to ``url`` amounts to."""
    host, port = host_port(url)
    chain = list(causes(exc))
    where = f"{host}:{port}" if port else host
    for cause in chain:
        text = str(cause)
        if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            if "mismatch" in text.lower() or "doesn't match" in text:
                return CertificateError(
                    f"certificate verify failed for {host}: it is issued for another host, "
                    "check the URL",
                    host=host,
                    port=port,
                    fix="use the host name the CRM's certificate is issued for in the URL",
                    connection=connection,
                )
            return CertificateError(
                f"certificate verify failed for {host}: set ca_bundle",
                host=host,
                port=port,
                fix=(
                    "set ca_bundle in this connection to the PEM file of the certificate "
                    f"authority that signed {host}'s certificate"
                ),
                connection=connection,
            )
    for cause in chain:
        if isinstance(cause, ssl.SSLError | urllib3.exceptions.SSLError):
            return TlsError(
                f"TLS handshake with {where} failed ({_reason(cause)}): check the URL's scheme "
                "and port",
                host=host,
                port=port,
                fix="check that the URL starts with https:// and names the CRM's TLS port",
                connection=connection,
            )
    for cause in chain:
        if isinstance(cause, urllib3.exceptions.NameResolutionError | socket.gaierror):
            return HostNotFoundError(
                f"cannot resolve host {host}: check the host name in the URL",
                host=host,
                port=port,
                fix=f"correct the host name {host} in this connection's URL, or this machine's DNS",
                connection=connection,
            )
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return RefusedConnectionError(
                f"connection refused by {where}: check the URL and port, and that the CRM "
                "is reachable from this machine",
                host=host,
                port=port,
                fix=f"correct the URL (host {host}, port {port}) or start the service behind it",
                connection=connection,
            )
    connect_timeout = (urllib3.exceptions.ConnectTimeoutError, requests.exceptions.ConnectTimeout)
    if any(isinstance(c, connect_timeout) for c in chain):
        return RetryableError(
            f"{what}: no connection to {where} within the timeout",
            applied=False,
            connection=connection,
        )
    timeouts = (urllib3.exceptions.TimeoutError, requests.exceptions.Timeout, TimeoutError)
    if any(isinstance(c, timeouts) for c in chain):
        return RetryableError(
            f"{what}: {where} did not answer within the timeout", connection=connection
        )
    return RetryableError(
        f"{what}: the connection to {where} broke ({_reason(exc)})", connection=connection
    )


def _reason(exc: BaseException) -> str:
    """A short reason: the innermost library's own words, without pool and URL noise."""
    inner = getattr(exc, "reason", None)
    if isinstance(inner, str) and inner:
        return inner
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    return type(exc).__name__
