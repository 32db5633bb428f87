"""Files only their owner may read: configs, secrets, plans and state hold CRM data.

Each file is created with mode 0600 from the start (never written first and narrowed after,
which would leave a moment where anyone on the machine could read it), and an existing file
is narrowed before anything is written into it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

PRIVATE = 0o600


def open_private(path: Path, *, exclusive: bool = False) -> IO[str]:
    """Open ``path`` for writing text, created (or truncated) with mode 0600.

    ``exclusive`` refuses an existing file (``FileExistsError``) instead of truncating it.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE)
    try:
        os.fchmod(fd, PRIVATE)  # O_CREAT keeps an existing file's mode: narrow it
    except OSError:
        os.close(fd)
        raise
    return os.fdopen(fd, "w", encoding="utf-8")


def write_private(path: Path, content: bytes | str) -> Path:
    """Write ``content`` to ``path`` readable by its owner only; returns ``path``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(fd, PRIVATE)
        file.write(content.encode() if isinstance(content, str) else content)
    return path


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (a database its driver fills)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        return
