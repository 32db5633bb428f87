"""``servefirst doctor``'s building blocks shared by every CRM: the checklist and its probes.

A preflight answers one question per line, before a first sync or after a change in the org:
can servefirst reach the CRM, log in, see and write what it needs, and afford a full sync?
Each failed check names what is wrong and what to do in one line, because the person reading
it is an admin setting servefirst up, not someone who can read a traceback.

The probes here do not depend on a CRM: the network path to a URL (name resolution, TCP, TLS
with the configured CA bundle), the clock, the daily budget and stage coverage. Each CRM's
``doctor`` module runs them with its own settings and adds the checks only its API can answer.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from servefirst.config.settings import is_loopback

#: Clock differences beyond these are reported: a warning, then a failure. JWT assertions
#: live three minutes, and watermarks come from the CRM's clock.
SKEW_WARN = dt.timedelta(seconds=30)
SKEW_FAIL = dt.timedelta(minutes=2)


class Status(StrEnum):
    """The verdict of one check; ``fail`` makes ``doctor`` exit 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, the verdict, what was found, the fix."""

    name: str
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        """The finding and its fix as one sentence."""
        return f"{self.message}: {self.fix}" if self.fix else self.message


@dataclass
class Checklist:
    """Checks in the order they ran."""

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, message: str, fix: str = "") -> Check:
        check = Check(name, status, message, fix)
        self.checks.append(check)
        return check

    def ok(self, name: str, message: str) -> Check:
        return self.add(name, Status.OK, message)

    def warn(self, name: str, message: str, fix: str = "") -> Check:
        return self.add(name, Status.WARN, message, fix)

    def fail(self, name: str, message: str, fix: str = "") -> Check:
        return self.add(name, Status.FAIL, message, fix)

    def skip(self, name: str, message: str) -> Check:
        return self.add(name, Status.SKIP, message)

    def append(self, check: Check) -> None:
        self.checks.append(check)

    def extend(self, checks: Iterable[Check]) -> None:
        self.checks.extend(checks)

    @property
    def failed(self) -> bool:
        return any(c.status is Status.FAIL for c in self.checks)


def default_ca_file() -> str | None:
    """The CA file ``requests`` would use without ``ca_bundle``: its environment, else certifi."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = os.environ.get(name)
        if value:
            return value
    try:
        import certifi  # noqa: PLC0415 - requests' own CA store, present wherever requests is
    except ImportError:
        return None
    return str(certifi.where())


def probe(url: str, *, setting: str, ca_bundle: Path | None, timeout: float) -> Check:
    """Can this machine open ``url``: name resolution, TCP connection, trusted TLS.

    Args:
        url: the CRM URL from the settings.
        setting: the config key it came from, named in the fix (e.g. ``instance_url``).
        ca_bundle: the connection's ``ca_bundle`` (absolute), or ``None`` for the default CAs.
        timeout: seconds for the connection and the TLS handshake.
    """
    name = "reachable"
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError:
        return Check(name, Status.FAIL, f"{setting} {url!r} has no valid port", "fix the URL")
    where = f"{host}:{port}"
    if not https and not is_loopback(host):
        return Check(
            name,
            Status.FAIL,
            f"{setting} {url} uses plain http, which would send the token unencrypted",
            "use its https:// address (only a local sandbox on 127.0.0.1 may use http)",
        )
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return Check(
            name,
            Status.FAIL,
            f"cannot resolve {host} (DNS)",
            f"check {setting} for a typo, and that this machine's DNS resolves it",
        )
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return Check(
            name,
            Status.FAIL,
            f"{where} refused the connection: nothing listens on port {port}",
            f"check the port in {setting}, and that the CRM or the proxy in front of it is up",
        )
    except TimeoutError:
        return Check(
            name,
            Status.FAIL,
            f"{where} did not answer within {timeout:g} s",
            "a firewall may drop the traffic: allow outbound HTTPS from this machine to it",
        )
    except OSError as exc:
        return Check(
            name,
            Status.FAIL,
            f"cannot connect to {where} ({exc.strerror or type(exc).__name__})",
            f"check {setting} and this machine's network route to it",
        )
    with connection:
        if not https:
            return Check(name, Status.OK, f"{where} answers (plain http on loopback)")
        return _tls(name, connection, host, where, ca_bundle, timeout)


def _tls(
    name: str,
    connection: socket.socket,
    host: str,
    where: str,
    ca_bundle: Path | None,
    timeout: float,
) -> Check:
    cafile = str(ca_bundle) if ca_bundle is not None else default_ca_file()
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        return Check(
            name,
            Status.FAIL,
            f"ca_bundle {cafile} cannot be read as a CA file ({type(exc).__name__})",
            "point ca_bundle at a PEM file holding the CA certificate that signed the CRM's",
        )
    connection.settimeout(timeout)
    try:
        with context.wrap_socket(connection, server_hostname=host):
            pass
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or "verification failed"
        fix = (
            f"ca_bundle {ca_bundle} does not hold the CA that signed it: point ca_bundle at "
            "that CA's PEM file, or remove ca_bundle to use the system's CAs"
            if ca_bundle is not None
            else "set ca_bundle in this connection to the PEM file of the CA that signed it "
            "(a company proxy or a private CA)"
        )
        return Check(
            name, Status.FAIL, f"the certificate of {where} is not trusted ({reason})", fix
        )
    except (ssl.SSLError, OSError) as exc:
        return Check(
            name,
            Status.FAIL,
            f"TLS handshake with {where} failed ({getattr(exc, 'reason', None) or exc})",
            "check that the URL is the CRM's HTTPS address and no proxy intercepts it",
        )
    trusted = f"ca_bundle {ca_bundle}" if ca_bundle is not None else "the default CAs"
    return Check(name, Status.OK, f"{where} answers over TLS; certificate trusted by {trusted}")


def clock_check(server: dt.datetime | None, crm: str, *, local: dt.datetime | None = None) -> Check:
    """This machine's clock against the CRM's ``Date`` header."""
    name = "clock"
    if server is None:
        return Check(name, Status.SKIP, f"{crm} sent no Date header to compare with")
    now = local or dt.datetime.now(dt.UTC)
    skew = now - server
    seconds = abs(skew.total_seconds())
    side = "ahead of" if skew.total_seconds() > 0 else "behind"
    fix = "keep it synchronised (NTP, e.g. systemd-timesyncd or chrony)"
    if abs(skew) > SKEW_FAIL:
        return Check(
            name, Status.FAIL, f"this machine's clock is {seconds:.0f} s {side} {crm}'s", fix
        )
    if abs(skew) > SKEW_WARN:
        return Check(
            name, Status.WARN, f"this machine's clock is {seconds:.0f} s {side} {crm}'s", fix
        )
    return Check(name, Status.OK, f"within {SKEW_WARN.seconds} s of {crm}'s clock")


def budget_check(
    *, daily_max: int, remaining: int, share: float, engagements: int, full_sync_calls: int
) -> Check:
    """The day's API budget left to servefirst against what a full sync would cost."""
    name = "API budget"
    allowance = math.floor(daily_max * share) - (daily_max - remaining)
    cost = f"a full sync of {engagements:,} engagements needs about {full_sync_calls:,} calls"
    left = f"servefirst's share ({share:.0%} of {daily_max:,} a day) leaves {max(allowance, 0):,}"
    if full_sync_calls > allowance:
        return Check(
            name,
            Status.FAIL,
            f"{cost}; {left} today",
            "raise api_budget_share, or run the first full sync after the daily budget resets",
        )
    if full_sync_calls > allowance / 2:
        return Check(
            name,
            Status.WARN,
            f"{cost}, over half of what {left[0].lower() + left[1:]} today",
            "other integrations may run short: schedule full scans at night",
        )
    return Check(name, Status.OK, f"{cost}; {left} today")


def stage_checks(
    *,
    crm_stages: Iterable[str],
    mapped: Mapping[str, str],
    explicit: Iterable[str],
    unmapped: Iterable[str],
    where: str,
) -> list[Check]:
    """Every playbook stage maps onto a CRM stage, and every CRM stage is mapped or let go.

    Args:
        crm_stages: the CRM's active stage names (labels).
        mapped: playbook stage key -> the CRM stage it maps to (configured or default label).
        explicit: the keys set in ``stage_map`` (a missing target there is a config error).
        unmapped: CRM stages the config leaves out of the playbook on purpose.
        where: how the stages are named in messages, e.g. "the org" or "pipeline 'Sales'".
    """

    def norm(label: str) -> str:
        return " ".join(label.split()).casefold()

    stages = {norm(s): s for s in crm_stages}
    explicit_keys = set(explicit)
    leave = {norm(s) for s in unmapped}
    listing = ", ".join(f"'{s}'" for s in stages.values()) or "none"
    checks = []
    for key, value in mapped.items():
        if norm(value) in stages:
            continue
        if key in explicit_keys:
            checks.append(
                Check(
                    "stages",
                    Status.FAIL,
                    f"stage_map.{key} names '{value}', a stage {where} does not have",
                    f"set stage_map.{key} to one of {listing}",
                )
            )
        else:
            checks.append(
                Check(
                    "stages",
                    Status.FAIL,
                    f"playbook stage '{key}' expects a stage '{value}', which {where} lacks",
                    f"run `servefirst provision`, or set stage_map.{key} to one of {listing}",
                )
            )
    targets = {norm(v) for v in mapped.values()}
    for label_key, label in stages.items():
        if label_key in targets or label_key in leave:
            continue
        checks.append(
            Check(
                "stages",
                Status.FAIL,
                f"stage '{label}' of {where} maps to no playbook stage, so its engagements "
                "would be flagged stage_unmapped",
                f'map it (stage_map.<playbook stage> = "{label}"), or list it in '
                "unmapped_stages if leaving it out is deliberate",
            )
        )
    if not checks:
        deliberate = sorted(s for k, s in stages.items() if k in leave)
        note = f"; left out on purpose: {', '.join(deliberate)}" if deliberate else ""
        checks.append(Check("stages", Status.OK, f"every stage of {where} is mapped{note}"))
    return checks


def missing_stage_targets(
    stage_map: Mapping[str, str], crm_stages: Iterable[str], where: str
) -> str | None:
    """Why ``stage_map`` cannot be used as written, or ``None`` when every target exists.

    ``provision`` and ``sync`` refuse such a map before writing anything: a stage_map naming a
    stage the CRM lacks would leave that playbook stage's engagements unmapped, flag each one
    and close their tasks.
    """
    have = {" ".join(s.split()).casefold(): s for s in crm_stages}
    wrong = [
        f"stage_map.{key} = '{value}'"
        for key, value in stage_map.items()
        if " ".join(value.split()).casefold() not in have
    ]
    if not wrong:
        return None
    listing = ", ".join(f"'{s}'" for s in have.values()) or "none"
    return (
        f"{'; '.join(wrong)}: {where} has no such stage. Use one of {listing} "
        "(`servefirst doctor` checks the whole mapping)"
    )
