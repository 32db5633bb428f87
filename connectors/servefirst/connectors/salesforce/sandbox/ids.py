"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe checksum.

The API returns 18-character ids and accepts 15 or 18, so clients that compare ids must
normalise; the sandbox computes real checksums so such bugs show up here, not in production.
The first three characters are the object's key prefix (``006`` Opportunity, ``003`` Contact...).
"""

from __future__ import annotations

import threading

from servefirst.connectors.salesforce.ids import BASE62 as _BASE62
from servefirst.connectors.salesforce.ids import checksum, to18

#: The two "pod" characters after the key prefix; any alphanumerics work.
_POD = "Hs"

__all__ = ["IdFactory", "checksum", "to18"]


class IdFactory:
    """Issues deterministic ids per key prefix (a counter), so seeded orgs are reproducible."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, int] = {}

    def new(self, prefix: str) -> str:
        with self._lock:
            number = self._next.get(prefix, 1)
            self._next[prefix] = number + 1
        id15 = f"{prefix}{_POD}{_encode(number).rjust(10, '0')}"
        return id15 + checksum(id15)

    def observe(self, record_id: str) -> None:
        """Keep the counter past an id loaded from disk, so new ids never collide."""
        prefix, body = record_id[:3], record_id[5:15]
        number = _decode(body)
        with self._lock:
            if number >= self._next.get(prefix, 1):
                self._next[prefix] = number + 1

    def state(self) -> dict[str, int]:
        with self._lock:
            return dict(self._next)


def _encode(number: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)) or "0"


def _decode(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _BASE62.index(char)
    return number
