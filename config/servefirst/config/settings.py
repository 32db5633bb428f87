"""The settings model for ``servefirst.toml``: playbook, state store and named CRM connections.

Secrets are never written in the file itself: a secret setting names an environment variable
(``{ env = "HUBSPOT_TOKEN" }``) or a file (``{ file = "secrets/sf.key" }``) and is read into a
``SecretStr`` only when a connection is opened, so it cannot leak into logs, state or reports.
Every model forbids unknown keys: a misspelt key is an error naming its line, never ignored.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from servefirst.playbook.errors import ConfigError


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: where a local sandbox may serve plain http."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_unless_loopback(url: str) -> str:
    """A CRM URL: ``https://``, or ``http://`` only for this machine (a local sandbox).

    A token sent over plain http to another host can be read by anyone on the path.
    """
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        raise ValueError(
            f"{url} uses http://, which would send the CRM credentials unencrypted: use "
            "https:// (http:// is accepted only for a loopback address such as 127.0.0.1)"
        )
    return url


#: The URL of a CRM API or login endpoint.
CrmUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+"), AfterValidator(_https_unless_loopback)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Strict):
    """Where a secret comes from: exactly one of an environment variable or a file."""

    env: Annotated[str | None, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = None
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_inline(cls, data: object) -> object:
        # The value itself is never repeated: it is the secret.
        if isinstance(data, str | int | float):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError, not TypeError
                "secrets are never written in the config file: remove the value (and rotate "
                'it if this file was shared) and name where to read it: { env = "VARIABLE" } '
                'or { file = "path/to/secret" }'
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise ValueError(
                'a secret needs exactly one of { env = "VARIABLE" } or { file = "path" }'
            )
        return self

    def reveal(self, base_dir: Path, what: str) -> SecretStr:
        """Read the secret; the error names where we looked, never the value."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(
                    f"{what}: environment variable {self.env} is not set: set it where "
                    'servefirst runs, or read the secret from a file with { file = "path" }'
                )
            return SecretStr(value)
        assert self.file is not None  # noqa: S101 - guaranteed by _one_source
        path = self.file if self.file.is_absolute() else base_dir / self.file
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"{what}: cannot read secret file {path}: {exc.strerror}: create it (readable "
                'by servefirst only), or read the secret from the environment with { env = "VAR" }'
            ) from None


_CRON = re.compile(r"^\S+(\s+\S+){4}$")


class Schedule(_Strict):
    """When the scheduler runs a connection's sync: a fixed interval or a cron expression."""

    interval_minutes: Annotated[int | None, Field(ge=1, le=10080)] = None
    cron: str | None = None
    #: The zone cron fields are read in; ``None``: the connection's ``timezone``.
    timezone: str | None = None
    misfire_grace_seconds: Annotated[int, Field(ge=1, le=86400)] = 900

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CRON.match(value.strip()):
            raise ValueError("cron needs five fields: minute hour day month day-of-week")
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if (self.interval_minutes is None) == (self.cron is None):
            raise ValueError("a schedule needs exactly one of `interval_minutes` or `cron`")
        return self


class SalesforceAuth(_Strict):
    """How servefirst gets an access token from Salesforce.

    ``jwt`` (JWT bearer flow with a connected app's certificate) is the recommended method for a
    server; ``client_credentials`` suits a connected app with a run-as user; ``token`` uses a
    pre-issued access token (sandbox and quick trials).
    """

    method: Literal["jwt", "client_credentials", "token"]
    login_url: CrmUrl = "https://login.salesforce.com"
    client_id: str | None = None
    username: str | None = None
    private_key: Secret | None = None
    client_secret: Secret | None = None
    access_token: Secret | None = None

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needs = {
            "jwt": ("client_id", "username", "private_key"),
            "client_credentials": ("client_id", "client_secret"),
            "token": ("access_token",),
        }[self.method]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth method {self.method!r} needs {', '.join(missing)}")
        return self


class SalesforceFields(_Strict):
    """API names of the Salesforce fields the playbook maps onto (playbook.md's defaults)."""

    po_date: str = "CloseDate"
    operational_date: str = "Operational_Date__c"
    success_criteria: str = "Success_Criteria__c"
    success_confirmed: str = "Success_Confirmed__c"
    health: str = "Playbook_Health__c"
    findings: str = "Playbook_Findings__c"
    slips: str = "Operational_Date_Slips__c"
    timetable: str = "Playbook_Timetable__c"
    waiver: str = "Playbook_Waiver__c"
    task_key: str = "ServeFirst_Key__c"


class HubSpotFields(_Strict):
    """Internal names of the HubSpot deal properties the playbook maps onto."""

    po_date: str = "closedate"
    operational_date: str = "operational_date"
    success_criteria: str = "success_criteria"
    success_confirmed: str = "success_confirmed"
    health: str = "playbook_health"
    findings: str = "playbook_findings"
    slips: str = "operational_date_slips"
    timetable: str = "playbook_timetable"
    waiver: str = "playbook_waiver"
    task_key: str = "servefirst_task_key"


class _ConnectionBase(_Strict):
    #: This connection's own playbook (a file, or ``builtin:NAME``), for a team whose sales
    #: motion differs; ``None`` uses the top-level ``playbook``.
    playbook: str | None = None
    schedule: Schedule = Field(default_factory=lambda: Schedule(interval_minutes=15))
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    api_budget_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    ca_bundle: Path | None = None
    #: playbook stage key (and ``won`` / ``lost``) -> the CRM's stage value; unset keys use the
    #: playbook's own stage labels.
    stage_map: dict[str, str] = Field(default_factory=dict)
    #: CRM stages deliberately left out of the playbook (e.g. a "Parked" stage): ``doctor``
    #: accepts them unmapped instead of asking to map them.
    unmapped_stages: tuple[str, ...] = ()
    #: A Slack-compatible incoming webhook (its URL holds a token, so it is a secret) told
    #: about a failed or partial run and an exhausted API budget.
    alert_webhook: Secret | None = None
    max_retries: Annotated[int, Field(ge=0, le=20)] = 5
    #: How far before the watermark an incremental pull re-reads, because the CRM may make a
    #: write visible to queries late (HubSpot's search index lags by seconds; Salesforce's
    #: query literals have second precision). ``None``: the connector's safe default. A local
    #: sandbox without lag writes 0 into its config.
    incremental_overlap_seconds: Annotated[int | None, Field(ge=0, le=3600)] = None
    #: Force a full scan when the last successful one is older than this. Some CRM edits never
    #: touch the engagement's modified stamp (a HubSpot contact newly *labelled* Sponsor on a
    #: deal it was already associated with), so incremental runs alone would miss them.
    #: ``None`` turns the periodic full scan off.
    full_scan_every_hours: Annotated[int | None, Field(ge=1, le=24 * 90)] = 24
    #: The IANA zone whose calendar decides "today" for this connection's findings (and its
    #: schedule, unless the schedule names its own). ``None``: this machine's local zone.
    timezone: str | None = None
    #: Failed attempts after which a record the CRM keeps refusing is reported as stuck.
    retry_stuck_after: Annotated[int, Field(ge=1, le=100)] = 5


class SalesforceConnection(_ConnectionBase):
    """One Salesforce org."""

    crm: Literal["salesforce"]
    instance_url: CrmUrl
    api_version: Annotated[str, Field(pattern=r"^\d{2,3}\.\d$")] = "59.0"
    auth: SalesforceAuth
    fields: SalesforceFields = Field(default_factory=SalesforceFields)
    sponsor_role: str = "Executive Sponsor"
    permission_set: str = "ServeFirst_Integration"
    validation_rule: bool = False


class HubSpotConnection(_ConnectionBase):
    """One HubSpot portal (account)."""

    crm: Literal["hubspot"]
    base_url: CrmUrl = "https://api.hubapi.com"
    token: Secret
    pipeline: str = "Serve-first"
    property_group: str = "serve_first"
    fields: HubSpotFields = Field(default_factory=HubSpotFields)
    sponsor_label: str = "Sponsor"
    tier: Literal["free", "starter", "professional", "enterprise"] = "professional"
    #: The portal (account) id, shown in HubSpot's own addresses: reports link each deal to its
    #: page only when it is set.
    portal_id: Annotated[int | None, Field(ge=1)] = None
    #: HubSpot's web app for this portal (``https://app-eu1.hubspot.com`` for EU portals).
    app_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+")] = "https://app.hubspot.com"


Connection = Annotated[SalesforceConnection | HubSpotConnection, Field(discriminator="crm")]


class ScaleSettings(_Strict):
    """``[scale]``: Dramatiq workers for many connections (``servefirst worker``).

    Only read by ``servefirst worker`` and ``servefirst run --backend dramatiq``; the embedded
    single-process mode ignores it. Redis is the default broker; an ``amqp://`` URL selects
    RabbitMQ. The state database must then be one every worker reaches (PostgreSQL).
    """

    broker_url: Annotated[str, Field(pattern=r"^(redis|rediss|amqp|amqps)://")] = (
        "redis://127.0.0.1:6379/0"
    )
    #: Redis key prefix and queue name, so several deployments can share one Redis.
    namespace: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")] = "servefirst"
    #: Attempts of a failing message after the first, with exponential backoff between them;
    #: then it lands in the dead-letter queue and in ``runs list``.
    max_retries: Annotated[int, Field(ge=0, le=50)] = 5
    min_backoff_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    max_backoff_seconds: Annotated[float, Field(gt=0, le=86400)] = 900.0
    #: A worker silent this long is dead: its unfinished messages go back to the queue.
    redelivery_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    #: Runs at once per worker process (each run holds its connection's lease).
    threads: Annotated[int, Field(ge=1, le=64)] = 4
    #: The Redis that keeps each org's API budget (rate-limit windows) for all workers to
    #: share; unset: the broker's Redis. With RabbitMQ and no ``limiter_url`` each worker
    #: paces alone, which may overrun an org's window when several sync it at once.
    limiter_url: Annotated[str | None, Field(pattern=r"^rediss?://")] = None

    def shared_limiter_url(self) -> str | None:
        """Where workers share API budgets: ``limiter_url``, else a Redis broker's URL."""
        if self.limiter_url is not None:
            return self.limiter_url
        return self.broker_url if self.broker_url.startswith(("redis://", "rediss://")) else None


class Settings(_Strict):
    """The whole of ``servefirst.toml``. ``base_dir`` (the file's folder) anchors relative paths."""

    playbook: str = "builtin:prime"
    state_url: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    scale: ScaleSettings = Field(default_factory=ScaleSettings)
    connections: dict[str, Connection] = Field(default_factory=dict)
    base_dir: Path = Field(default=Path(), exclude=True)

    def resolve_state_url(self) -> str:
        """The state database URL; by default a SQLite file beside the config."""
        if self.state_url:
            return self.state_url
        return f"sqlite:///{(self.base_dir / '.servefirst' / 'state.db').resolve()}"

    def connection(self, name: str | None) -> tuple[str, SalesforceConnection | HubSpotConnection]:
        """The named connection, or the only one when no name is given."""
        if not self.connections:
            raise ConfigError("no connections are configured; add a [connections.NAME] table")
        if name is None:
            if len(self.connections) > 1:
                names = ", ".join(sorted(self.connections))
                raise ConfigError(f"several connections are configured ({names}): pick one")
            name = next(iter(self.connections))
        if name not in self.connections:
            raise ConfigError(
                f"no connection named {name!r}; configured: {', '.join(sorted(self.connections))}"
            )
        return name, self.connections[name]
