"""A small client for the ``/__sandbox__/`` admin API, for tests, benchmarks and the demo."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests


class SandboxAdmin:
    """Talks to a running sandbox's admin API over HTTP(S)."""

    def __init__(self, url: str, ca_bundle: Path | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.verify: str | bool = str(ca_bundle) if ca_bundle else True
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self._session.request(
            method,
            f"{self.url}/__sandbox__{path}",
            json=payload,
            verify=self.verify,
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    def endpoints(self) -> list[dict[str, str]]:
        """What ``GET /__sandbox__/`` lists: method, path, summary and body of each endpoint."""
        result: list[dict[str, str]] = self._call("GET", "/")["endpoints"]
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def reset_stats(self) -> None:
        self._call("POST", "/stats/reset")

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        self._call("POST", "/faults", {"kind": kind, "count": count, **options})

    def random_faults(self, rate: float, seed: int, faults: list[dict[str, Any]]) -> None:
        self._call("POST", "/faults/random", {"rate": rate, "seed": seed, "faults": faults})

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def hold(self, after: int, path_prefix: str = "", timeout_seconds: float = 10.0) -> None:
        """Park the ``after``-th request whose path starts with ``path_prefix`` until released."""
        payload = {"after": after, "path_prefix": path_prefix, "timeout_seconds": timeout_seconds}
        self._call("POST", "/gate", payload)

    def holding(self) -> bool:
        """Whether a request is parked at the gate right now."""
        return bool(self._call("GET", "/gate")["holding"])

    def release(self) -> None:
        """Let a parked request go on (if any) and disarm the gate."""
        self._call("DELETE", "/gate")

    def set_clock_offset(self, seconds: float) -> None:
        """Run the sandbox's clock ``seconds`` ahead of this machine's (behind if negative)."""
        self._call("POST", "/clock", {"offset_seconds": seconds})

    def close(self) -> None:
        """Release the keep-alive connection, so the sandbox can stop at once."""
        self._session.close()

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """A CRM-specific admin endpoint (e.g. seeding or search lag)."""
        return self._call(method, path, payload)


@contextmanager
def while_held(
    admin: SandboxAdmin, after: int, path_prefix: str, action: Callable[[], None]
) -> Iterator[None]:
    """Run ``action`` while the ``after``-th matching request of the body's work is held.

    The body (a sync, say) runs in the calling thread; ``action`` (a rep's edit) runs in another
    as soon as the request is parked, then releases it. Should the body never make that request,
    ``action`` runs once the body is done. An error in ``action`` is raised here.
    """
    admin.hold(after, path_prefix, timeout_seconds=20)
    finished = threading.Event()
    failures: list[BaseException] = []

    def act() -> None:
        try:
            while not finished.is_set() and not admin.holding():
                time.sleep(0.02)
            if finished.is_set() and not admin.holding():
                # The body is done without that request: disarm the gate first, or the
                # action's own request would be the one parked (until the gate's timeout).
                admin.release()
            action()
        except BaseException as exc:  # handed to the caller below
            failures.append(exc)
        finally:
            admin.release()

    thread = threading.Thread(target=act, name="while-held")
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join(timeout=30)
    if failures:
        raise failures[0]
