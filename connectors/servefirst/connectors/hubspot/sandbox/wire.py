"""HubSpot's wire formats: instants, dates and property values.

Every property value travels as a string. Values are stored in their canonical *output* form
(datetimes as ISO with milliseconds and ``Z``, dates as ``YYYY-MM-DD``), which sorts
chronologically as plain text, so search can compare and sort without parsing per record.
"""

from __future__ import annotations

import datetime as dt
import re

from servefirst.connectors.sandboxkit import clock as sandbox_clock

_EPOCH_MS = re.compile(r"^-?\d{1,16}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_MS = 86_400_000


class ValueProblemError(Exception):
    """A property value HubSpot would refuse; ``code`` is HubSpot's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def now_ms() -> int:
    """The sandbox's clock (see ``sandboxkit.clock``) in epoch milliseconds."""
    return int(sandbox_clock.now().timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as HubSpot prints datetimes: ``2024-05-01T09:30:00.000Z``."""
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def date_text(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).date().isoformat()


def parse_instant(text: str) -> int:
    """Epoch ms from an epoch-ms string, an ISO datetime or an ISO date (midnight UTC)."""
    text = text.strip()
    if _EPOCH_MS.match(text):
        return int(text)
    if _DATE.match(text):
        day = dt.date.fromisoformat(text)
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return round(stamp.timestamp() * 1000)


def _instant(text: str, code: str, name: str) -> int:
    try:
        return parse_instant(text)
    except ValueError:
        raise ValueProblemError(
            code, f"{text!r} was not a valid long or ISO 8601 date/time for {name}."
        ) from None


def normalize(name: str, type_: str, field_type: str, raw: object, allowed: set[str] | None) -> str:
    """The canonical stored string for a written value; ``""`` clears the property.

    Raises:
        ValueProblemError: the value is invalid for the property's type (HubSpot answers 400).
    """
    if raw is None:
        return ""
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if text == "":
        return ""
    if type_ == "string":
        return text
    if type_ == "number":
        try:
            float(text)
        except ValueError:
            raise ValueProblemError("INVALID_NUMBER", f"{text!r} is not a valid number.") from None
        return text.strip()
    if type_ == "datetime":
        return iso_ms(_instant(text, "INVALID_DATE", name))
    if type_ == "date":
        ms = _instant(text, "INVALID_DATE", name)
        if ms % DAY_MS:
            raise ValueProblemError(
                "INVALID_DATE",
                f"{text} is at {iso_ms(ms)}, but {name} is a date property and needs "
                "midnight UTC (e.g. 2024-05-01 or epoch ms of midnight UTC).",
            )
        return date_text(ms)
    if type_ == "bool" or (type_ == "enumeration" and field_type == "booleancheckbox"):
        if text.lower() not in ("true", "false"):
            raise ValueProblemError("INVALID_BOOLEAN", f"{text!r} is not a valid boolean ({name}).")
        return text.lower()
    if type_ == "enumeration" and allowed is not None:
        values = text.split(";") if field_type == "checkbox" else [text]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise ValueProblemError(
                "INVALID_OPTION",
                f"{bad[0]} was not one of the allowed options: "
                + ", ".join(f"[label: {v!r}, value: {v!r}]" for v in sorted(allowed)),
            )
    return text


def filter_key(type_: str, raw: str) -> float | str:
    """A search filter value made comparable with :func:`record_key` of the same property."""
    if type_ == "number":
        return float(raw)
    if type_ in ("datetime", "date"):
        ms = parse_instant(raw)
        return date_text(ms) if type_ == "date" else iso_ms(ms)
    return raw.lower()


def record_key(type_: str, stored: str) -> float | str:
    """A stored value in the form search compares and sorts."""
    if type_ == "number":
        return float(stored)
    if type_ in ("datetime", "date"):
        return stored
    return stored.lower()
