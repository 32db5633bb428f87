"""Which calendar day it is for a connection: "today" in the connection's own time zone.

Findings turn on dates ("the Operational Date passed"), and a team in Sydney crosses midnight
half a day before one in San Francisco; so "today" is taken in the connection's configured zone
(default: this machine's), never in UTC by accident.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal

from servefirst.config.settings import HubSpotConnection, SalesforceConnection
from servefirst.playbook.errors import ConfigError


def zone_named(name: str | None, *, what: str) -> dt.tzinfo:
    """The IANA zone ``name``, or this machine's zone for ``None``; a bad name is a ConfigError."""
    if name is None:
        return tzlocal.get_localzone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{what}: unknown timezone {name!r}; use an IANA name such as Europe/Paris"
        ) from None


def connection_zone(name: str, conn: SalesforceConnection | HubSpotConnection) -> dt.tzinfo:
    """The zone whose calendar decides "today" for connection ``name``."""
    return zone_named(conn.timezone, what=f"connection {name!r}")


def today_in(zone: dt.tzinfo) -> dt.date:
    """Today's date in ``zone``."""
    return dt.datetime.now(zone).date()
