"""The error tree every part of servefirst raises, grouped by what the engine must do next.

The engine never inspects messages or HTTP codes: it looks only at the class, so each CRM's
quirks are translated once, at the connector boundary, into one of these::

    ServeFirstError                 root: anything servefirst raises on purpose
    ├── ConfigError                 fix your config or playbook file (exit 2)
    ├── RetryableError              429 / 5xx / timeouts: the connector retries with backoff
    ├── FatalSyncError              stop this run, keep the checkpoint (exit 3)
    │   ├── AuthError               credentials rejected or unobtainable
    │   ├── BudgetExhaustedError    the daily API budget (or our share of it) is spent
    │   └── UnreachableError        the CRM cannot be reached: host, port and the fix
    │       ├── CertificateError    its certificate does not verify (set ca_bundle)
    │       ├── TlsError            the TLS handshake failed for another reason
    │       ├── HostNotFoundError   DNS does not know the host
    │       └── RefusedConnectionError   nothing listens on that port
    └── RecordError                 skip this record, report it, carry on (exit 1)

Each error carries the connection, the CRM object and the CRM's own response text when it has
them, so a user can act on the message without reading a traceback. None of them ever carries a
credential: connectors pass only the CRM's reply body, never request headers.
"""

from __future__ import annotations


class ServeFirstError(Exception):
    """Root of every error servefirst raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        connection: str | None = None,
        crm_object: str | None = None,
        record_id: str | None = None,
        response: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.connection = connection
        self.crm_object = crm_object
        self.record_id = record_id
        self.response = response

    def __str__(self) -> str:
        where = [
            part
            for part in (
                f"connection {self.connection}" if self.connection else None,
                self.crm_object,
                f"record {self.record_id}" if self.record_id else None,
            )
            if part
        ]
        text = f"{self.message} ({', '.join(where)})" if where else self.message
        if self.response:
            text = f"{text}: {self.response}"
        return text


class ConfigError(ServeFirstError):
    """The user's configuration or playbook is wrong: nothing will work until it is fixed."""


class RetryableError(ServeFirstError):
    """A transient failure (rate limit, 5xx, timeout, reset): retrying later may succeed.

    ``applied`` says whether the CRM may have carried the request out although it failed:
    ``None`` (unknown: a 5xx, a reset or a timeout after the request was sent) or ``False``
    (refused before doing anything: a rate limit, a connect timeout). A create that failed
    with ``applied`` unknown must be looked up before it is sent again.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        applied: bool | None = None,
        **kw: str | None,
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.applied = applied


class FatalSyncError(ServeFirstError):
    """The run cannot continue; what was applied so far stays recorded and the watermark holds."""


class AuthError(FatalSyncError):
    """The CRM refused our credentials, or we could not obtain a token."""


class BudgetExhaustedError(FatalSyncError):
    """The CRM's daily API budget, or the share of it servefirst may use, is spent."""


class UnreachableError(FatalSyncError):
    """The CRM could not be reached; ``fix`` says what to change, in the user's words.

    Typed so that ``servefirst doctor`` can show the host, the port and the fix on their own.
    The message is one line naming the host and the fix; retrying would not help.
    """

    def __init__(
        self, message: str, *, host: str, port: int | None, fix: str, **kw: str | None
    ) -> None:
        super().__init__(message, **kw)
        self.host = host
        self.port = port
        self.fix = fix


class CertificateError(UnreachableError):
    """The CRM's certificate does not verify against the trusted CAs (or ``ca_bundle``)."""


class TlsError(UnreachableError):
    """The TLS handshake failed for a reason other than the certificate (e.g. not https)."""


class HostNotFoundError(UnreachableError):
    """DNS cannot resolve the CRM's host name."""


class RefusedConnectionError(UnreachableError):
    """Nothing accepts connections on the CRM's host and port."""


class RecordError(ServeFirstError):
    """One record could not be read or written; the run reports it and carries on."""
