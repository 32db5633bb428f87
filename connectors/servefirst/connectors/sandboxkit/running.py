"""The handle a started sandbox returns to the CLI, the demo, tests and benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from servefirst.connectors.sandboxkit.admin import SandboxAdmin
from servefirst.connectors.sandboxkit.server import SandboxServer


@dataclass
class RunningSandbox:
    """A sandbox serving on loopback, with what a client needs to reach it.

    ``seed`` seeds more data in-process (not through HTTP, so it costs no counted requests):
    ``seed("demo")`` or ``seed("bench", n)``.
    """

    crm: str
    server: SandboxServer
    token: str = field(repr=False)
    config_path: Path
    seed: Callable[[str, int], object] = field(repr=False)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca_bundle(self) -> Path | None:
        return self.server.ca_bundle

    @cached_property
    def admin(self) -> SandboxAdmin:
        """One admin client per sandbox, closed by ``stop()``."""
        return SandboxAdmin(self.url, self.ca_bundle)

    def ready_line(self) -> str:
        """The one JSON line ``servefirst sandbox serve`` prints when ready."""
        return json.dumps(
            {
                "crm": self.crm,
                "url": self.url,
                "token": self.token,
                "ca_bundle": str(self.ca_bundle) if self.ca_bundle else None,
                "config": str(self.config_path),
            }
        )

    def stop(self) -> None:
        if "admin" in self.__dict__:
            self.admin.close()
        self.server.stop()
