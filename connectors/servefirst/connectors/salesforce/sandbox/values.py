"""Wire formats: JSON input to stored Python values, and stored values back to JSON.

Dates travel as ``"2024-05-01"`` and datetimes as ``"2024-05-01T12:00:00.000+0000"`` (UTC).
Anything else sent to a date field (a datetime string, a number) is rejected with
``JSON_PARSER_ERROR`` the way Salesforce's JSON deserializer rejects it, so connector code that
passes a Python datetime's isoformat to a Date field fails here before it fails in production.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from servefirst.connectors.salesforce.sandbox.errors import SfError, bad_request
from servefirst.connectors.salesforce.sandbox.ids import to18
from servefirst.connectors.salesforce.sandbox.schema import NUMBER_TYPES, FieldDef, FieldType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _parser_error(kind: str, raw: Any) -> SfError:
    token = "VALUE_STRING" if isinstance(raw, str) else "VALUE_NUMBER_INT"
    if isinstance(raw, bool):
        token = "VALUE_TRUE" if raw else "VALUE_FALSE"
    return bad_request(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {token} value {raw} "
        "or request may be missing a required field at [line:1, column:1]",
    )


def parse_date(raw: Any) -> date:
    if not isinstance(raw, str) or not _DATE.match(raw):
        raise _parser_error("date", raw)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _parser_error("date", raw) from None


def parse_datetime(raw: Any) -> datetime:
    match = _DATETIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise _parser_error("datetime", raw)
    day, hour, minute, second, fraction, zone = match.groups()
    zone = "+00:00" if zone == "Z" else zone
    if ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    millis = (fraction or ".0")[1:].ljust(3, "0")
    try:
        parsed = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second}.{millis}{zone}")
    except ValueError:
        raise _parser_error("datetime", raw) from None
    return parsed.astimezone(UTC)


def parse_input(definition: FieldDef, raw: Any) -> Any:
    """The stored value for a JSON value written to ``definition``; raises SfError if invalid."""
    if raw is None:
        return None
    kind = definition.type
    if kind is FieldType.DATE:
        return parse_date(raw)
    if kind is FieldType.DATETIME:
        return parse_datetime(raw)
    if kind is FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise _parser_error("boolean", raw)
    if kind in NUMBER_TYPES:
        return _number(definition, raw)
    if kind in (FieldType.ID, FieldType.REFERENCE):
        text = str(raw)
        full = to18(text) if text else None
        if full is None:
            raise bad_request(
                "MALFORMED_ID",
                f"{definition.label}: id value of incorrect type: {text}",
                [definition.name],
            )
        return full
    if kind is FieldType.COMPLEX:
        return raw
    if isinstance(raw, dict | list):
        raise _parser_error("string", raw)
    text = raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)
    if kind is FieldType.EMAIL and text and not _EMAIL.match(text):
        raise bad_request(
            "INVALID_EMAIL_ADDRESS",
            f"{definition.label}: invalid email address: {text}",
            [definition.name],
        )
    return text


def _number(definition: FieldDef, raw: Any) -> float | int:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise _parser_error("double", raw)
    try:
        number = float(raw)
    except ValueError:
        raise _parser_error("double", raw) from None
    if definition.precision:
        integer_digits = definition.precision - definition.scale
        if abs(number) >= 10**integer_digits:
            raise bad_request(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{definition.label}: value outside of valid range on numeric field: {raw}",
                [definition.name],
            )
    if definition.type is FieldType.INT:
        return int(number)
    return round(number, definition.scale) if definition.scale else float(round(number))


@lru_cache(maxsize=65536)
def format_datetime(value: datetime) -> str:
    """Salesforce's datetime wire format; cached, as rows often share stamps (bulk writes)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """The JSON form of a stored value."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(definition: FieldDef, value: Any) -> Any:
    """A stored value from its JSON form (persistence); trusted, so no validation."""
    if value is None:
        return None
    if definition.type is FieldType.DATE:
        return date.fromisoformat(value)
    if definition.type is FieldType.DATETIME:
        return parse_datetime(value)
    return value
