"""SOQL for pulling engagements, built only with ``simple_salesforce.format_soql``.

Every value that reaches a query (a watermark, a date, a role name, a list of ids) goes through
``format_soql`` so that it is quoted and escaped; only API names from the validated settings are
spliced in with ``:literal``, after checking they look like API names. One query returns all an
engagement needs (fields, owner, account, sponsor roles, open playbook tasks) so that a pull
costs one call per page, and an incremental pull that finds nothing costs two calls in all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus

from simple_salesforce.format import format_soql

from servefirst.config.settings import SalesforceFields
from servefirst.connectors.base import DateRange, PullWindow
from servefirst.playbook.errors import ConfigError

#: Salesforce refuses GET requests whose URI is longer than this many bytes.
MAX_URI_BYTES = 16_384
#: Room kept for the scheme, host, API path and ``?q=`` in front of the encoded query.
URI_HEADROOM = 512
#: Incremental pulls reach back this far before the watermark: SOQL datetime literals have
#: second precision while stamps have milliseconds, and clocks of app servers drift.
DEFAULT_OVERLAP = dt.timedelta(minutes=5)

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def api_name(name: str, what: str) -> str:
    """Check that a configured field name is an API name before it is spliced into SOQL."""
    if not _API_NAME.match(name):
        raise ConfigError(
            f"{what} {name!r} is not a Salesforce API name (letters, digits and underscores, "
            "e.g. Operational_Date__c); fix it in servefirst.toml"
        )
    return name


@dataclass(frozen=True)
class OpportunityQuery:
    """The SELECT list and child subqueries of the one Opportunity query a pull runs."""

    fields: SalesforceFields
    sponsor_role: str

    def opportunity_fields(self) -> tuple[str, ...]:
        """Plain and parent fields, de-duplicated case-insensitively (SOQL rejects repeats)."""
        f = self.fields
        wanted = (
            "Id",
            "Name",
            "StageName",
            "IsClosed",
            "IsWon",
            "Amount",
            "OwnerId",
            "Owner.Name",
            "AccountId",
            "Account.Name",
            "SystemModstamp",
            f.po_date,
            f.operational_date,
            f.success_criteria,
            f.success_confirmed,
            f.health,
            f.findings,
            f.slips,
            f.timetable,
            f.waiver,
        )
        seen: set[str] = set()
        out: list[str] = []
        for name in wanted:
            api_name(name, "field")
            if name.lower() not in seen:
                seen.add(name.lower())
                out.append(name)
        return tuple(out)

    def roles_subquery(self) -> str:
        """Only sponsor roles: the engagement needs no other contact role."""
        return format_soql(
            "(SELECT ContactId, Role, Contact.Name, Contact.Email, Contact.Title "
            "FROM OpportunityContactRoles WHERE Role = {})",
            self.sponsor_role,
        )

    def tasks_subquery(self) -> str:
        """Tasks carrying a playbook key, open or closed, with what they say.

        Open ones may need closing or rewording; closed ones may need reopening (a rep marked
        one done while its problem persists). The key is unique, so an opportunity holds at
        most one task per key ever: the list stays as short as the playbook's rules.
        """
        key = api_name(self.fields.task_key, "task key field")
        return format_soql(
            "(SELECT {cols:literal} FROM Tasks WHERE {key:literal} != null)",
            cols=self.task_columns(),
            key=key,
        )

    def task_columns(self) -> str:
        key = api_name(self.fields.task_key, "task key field")
        return f"Id, {key}, Status, IsClosed, Subject, Description"

    def select(self) -> str:
        """``SELECT ... FROM Opportunity`` without WHERE."""
        columns = ", ".join(self.opportunity_fields())
        return format_soql(
            "SELECT {columns:literal}, {roles:literal}, {tasks:literal} FROM Opportunity",
            columns=columns,
            roles=self.roles_subquery(),
            tasks=self.tasks_subquery(),
        )

    def roles_rest(self, opportunity_id: str) -> str:
        """The sponsor roles of one opportunity, as a top-level query (child paging fallback)."""
        return format_soql(
            "SELECT ContactId, Role, Contact.Name, Contact.Email, Contact.Title "
            "FROM OpportunityContactRole WHERE OpportunityId = {} AND Role = {}",
            opportunity_id,
            self.sponsor_role,
        )

    def tasks_rest(self, opportunity_id: str) -> str:
        """The playbook tasks of one opportunity, as a top-level query."""
        key = api_name(self.fields.task_key, "task key field")
        return format_soql(
            "SELECT {cols:literal} FROM Task WHERE WhatId = {id} AND {key:literal} != null",
            cols=self.task_columns(),
            key=key,
            id=opportunity_id,
        )


def date_range_condition(fields: SalesforceFields, window: DateRange) -> str:
    """``(Field >= start AND Field < end)`` for a key-date range of a pull window."""
    names = {"po_date": fields.po_date, "operational_date": fields.operational_date}
    if window.field not in names:
        raise ValueError(
            f"unknown key-date field {window.field!r}; expected one of {', '.join(names)}"
        )
    name = api_name(names[window.field], "date field")
    return format_soql(
        "({f:literal} >= {start} AND {f:literal} < {end})",
        f=name,
        start=window.start,
        end=window.end,
    )


def since(window: PullWindow, overlap: dt.timedelta) -> dt.datetime | None:
    """The stamp an incremental pull reads from: the watermark minus the overlap, in UTC."""
    if window.modified_since is None:
        return None
    stamp = window.modified_since
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC) - overlap


def where_changed(fields: SalesforceFields, window: PullWindow, overlap: dt.timedelta) -> str:
    """The WHERE condition of an incremental pull, or ``""`` for a full scan."""
    start = since(window, overlap)
    if start is None:
        return ""
    parts = [format_soql("SystemModstamp >= {}", start)]
    parts.extend(date_range_condition(fields, r) for r in window.date_ranges)
    return " OR ".join(parts)


def opportunities(query: OpportunityQuery, condition: str) -> str:
    """The main pull query, ordered so that paging and watermarks agree."""
    where = format_soql(" WHERE {:literal}", condition) if condition else ""
    return format_soql(
        "{select:literal}{where:literal} ORDER BY SystemModstamp, Id",
        select=query.select(),
        where=where,
    )


def or_ids(condition: str, ids: Sequence[str]) -> str:
    """``condition OR Id IN (...)``, or just the id test when there is no other condition."""
    if not condition:
        return format_soql("Id IN {}", list(ids))
    return format_soql("{cond:literal} OR Id IN {ids}", cond=condition, ids=list(ids))


def changed_roles(start: dt.datetime) -> str:
    """Opportunities whose contact roles changed: editing a role leaves the deal's stamp alone.

    Run through ``queryAll``, it also returns role rows deleted since ``start`` (deleting a
    row stamps it), so a removed sponsor is caught incrementally too.
    """
    return format_soql(
        "SELECT OpportunityId FROM OpportunityContactRole WHERE SystemModstamp >= {} "
        "ORDER BY OpportunityId",
        start,
    )


def completed_tasks(key_field: str, start: dt.datetime) -> str:
    """Opportunities with a playbook task closed since ``start``.

    Completing a task leaves the opportunity's stamp alone, so without this a rep who marks a
    task done without fixing anything would go unseen until the next full scan.
    """
    key = api_name(key_field, "task key field")
    return format_soql(
        "SELECT WhatId FROM Task WHERE {key:literal} != null AND IsClosed = true "
        "AND SystemModstamp >= {start} ORDER BY WhatId",
        key=key,
        start=start,
    )


def by_ids(query: OpportunityQuery, ids: Sequence[str]) -> str:
    """Opportunities by id, with everything the main query returns."""
    return format_soql(
        "{select:literal} WHERE Id IN {ids} ORDER BY SystemModstamp, Id",
        select=query.select(),
        ids=list(ids),
    )


def encoded_length(soql: str) -> int:
    """Bytes the query takes in a GET URI once form-encoded (what Salesforce limits)."""
    return len(quote_plus(soql))


def split_by_uri(
    ids: Sequence[str],
    build: Callable[[Sequence[str]], str],
    limit: int = MAX_URI_BYTES - URI_HEADROOM,
) -> Iterator[list[str]]:
    """Split an id list into the fewest chunks whose query each fits under the URI limit.

    ``build`` renders the query for a chunk. The cost of each id is measured once (its quoted,
    encoded form plus an encoded comma) so that splitting thousands of ids stays linear.
    """
    base = encoded_length(build([]))
    comma = len(quote_plus(","))
    chunk: list[str] = []
    size = base
    for item in ids:
        cost = encoded_length(format_soql("{}", item)) + (comma if chunk else 0)
        if chunk and size + cost > limit:
            yield chunk
            chunk, size, cost = [], base, cost - comma
        if base + cost > limit:
            raise ValueError(f"id {item!r} does not fit in a query under the URI limit")
        chunk.append(item)
        size += cost
    if chunk:
        yield chunk
