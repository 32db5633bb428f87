"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safe checksum.

The API returns 18-character ids and accepts 15 or 18, but a SOQL filter on an ``Id`` that is
not a valid id fails the whole query ("invalid ID field"). The connector checks ids it did not
read from Salesforce itself (e.g. ids handed to a pull) before they reach a query, and the
sandbox uses the same checksum to issue and validate ids as Salesforce does.
"""

from __future__ import annotations

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)


def checksum(id15: str) -> str:
    """The 3-character suffix: per 5-character chunk, a bit per upper-case letter."""
    suffix = []
    for start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_CHECKSUM_ALPHABET[bits])
    return "".join(suffix)


def to18(record_id: str) -> str | None:
    """The 18-character form of a 15- or 18-character id; ``None`` if it is not a valid id."""
    if len(record_id) not in (15, 18) or not set(record_id) <= _BASE62_SET:
        return None
    id15 = record_id[:15]
    full = id15 + checksum(id15)
    if len(record_id) == 18 and record_id[15:].upper() != full[15:]:
        return None
    return full
