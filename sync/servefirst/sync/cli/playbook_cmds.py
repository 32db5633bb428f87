"""Commands registered on the root app (filled in by its owner)."""

from __future__ import annotations

from servefirst.sync.cli.app import app

__all__ = ["app"]
