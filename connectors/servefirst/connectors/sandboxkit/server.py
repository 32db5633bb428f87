"""Serve an ASGI app with uvicorn in a background thread, on loopback, optionally over TLS.

simple-salesforce always speaks https, so the Salesforce sandbox needs real TLS: a throwaway
local CA (trustme) signs a certificate for 127.0.0.1 and localhost, and the CA's PEM is written
next to the sandbox's data so clients can trust it explicitly (never by turning verification off).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import trustme
import uvicorn

LOOPBACK = "127.0.0.1"


class SandboxServer:
    """One running sandbox HTTP(S) server; ``stop()`` shuts it down cleanly."""

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        tls_dir: Path | None = None,
        host: str = LOOPBACK,
    ) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.ca_bundle: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls_dir is not None:
            kwargs.update(self._make_certs(tls_dir))
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            date_header=False,  # the sandbox's middleware sends its own clock's Date
            **kwargs,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_bundle else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the CLI)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def _make_certs(self, tls_dir: Path) -> dict[str, Any]:
        tls_dir.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert(LOOPBACK, "localhost")
        ca_path = tls_dir / "sandbox-ca.pem"
        cert_path = tls_dir / "sandbox-cert.pem"
        key_path = tls_dir / "sandbox-key.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
        cert.private_key_pem.write_to_path(str(key_path))
        self.ca_bundle = ca_path
        return {"ssl_certfile": str(cert_path), "ssl_keyfile": str(key_path)}


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
