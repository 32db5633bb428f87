"""Files a client needs to reach the sandbox: JWT app key pair, client secret, token, toml.

The JWT connected app's key pair is generated fresh per work directory (kept if present, so a
restarted sandbox keeps working with an already-configured servefirst). The written
``servefirst.toml`` uses the pre-issued token; the JWT alternative is in comments.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from servefirst.config.private import write_private
from servefirst.connectors.salesforce.sandbox.org import INTEGRATION_USERNAME, JWT_CLIENT_ID
from servefirst.connectors.sandboxkit.files import toml_string
from servefirst.connectors.sandboxkit.files import write_config as shared_config

TOKEN_NAME = "access-token.txt"  # noqa: S105 - a file name
JWT_KEY_NAME = "jwt-private-key.pem"
JWT_CERT_NAME = "jwt-cert.pem"
CLIENT_SECRET_NAME = "client-secret.txt"  # noqa: S105 - a file name


@dataclass(frozen=True)
class Credentials:
    jwt_key: Path
    jwt_cert: Path
    client_secret: str
    certificate_pem: bytes


def ensure_credentials(workdir: Path) -> Credentials:
    """The connected app's key pair and client secret, created on first use."""
    key_path, cert_path = workdir / JWT_KEY_NAME, workdir / JWT_CERT_NAME
    secret_path = workdir / CLIENT_SECRET_NAME
    if not (key_path.exists() and cert_path.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, JWT_CLIENT_ID)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if not secret_path.exists():
        write_private(secret_path, secrets.token_urlsafe(32).encode())
    return Credentials(
        key_path,
        cert_path,
        secret_path.read_text(encoding="utf-8").strip(),
        cert_path.read_bytes(),
    )


def write_token(workdir: Path, token: str) -> Path:
    return write_private(workdir / TOKEN_NAME, token.encode())


def write_config(
    workdir: Path,
    *,
    url: str,
    ca_bundle: Path,
    token_file: Path,
    jwt_key: Path,
    stage_map: dict[str, str],
) -> Path:
    """A ``servefirst.toml`` that connects servefirst to this sandbox.

    ``stage_map`` maps the playbook's stages onto an org's existing ones (a fresh org's
    standard stages); an org that already has Discover ... Deliver needs none.
    """
    q = toml_string
    header = [
        "Written by `servefirst sandbox serve --crm salesforce`: connects servefirst to the",
        "local Salesforce sandbox at " + url,
    ]
    connection = [
        "[connections.salesforce]",
        'crm = "salesforce"',
        f"instance_url = {q(url)}",
        f"ca_bundle = {q(ca_bundle.resolve())}",
        "# A real org needs a few minutes of overlap (long transactions commit with earlier",
        "# SystemModstamps); this sandbox commits every write at once.",
        "incremental_overlap_seconds = 0",
        "",
        "[connections.salesforce.auth]",
        'method = "token"',
        f"login_url = {q(url)}",
        f"access_token = {{ file = {q(token_file.resolve())} }}",
        "# The JWT bearer flow (recommended for servers) works too: replace the method and",
        "# access_token lines above with",
        '# method = "jwt"',
        f"# client_id = {q(JWT_CLIENT_ID)}",
        f"# username = {q(INTEGRATION_USERNAME)}",
        f"# private_key = {{ file = {q(jwt_key.resolve())} }}",
    ]
    if stage_map:
        connection += [
            "",
            "# This org has Salesforce's standard stages: the playbook's map onto them.",
            "[connections.salesforce.stage_map]",
            *(f"{key} = {q(value)}" for key, value in stage_map.items()),
        ]
    return shared_config(workdir, header, connection)
