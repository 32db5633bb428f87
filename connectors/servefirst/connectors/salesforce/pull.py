"""Pulling engagements page by page: full scans and incremental windows.

An incremental pull asks three questions, in three calls when nothing changed:
  1. which opportunities had a contact role added, edited or deleted since the watermark
     (a role change leaves the opportunity's ``SystemModstamp`` alone, so the main query alone
     would miss a new or removed sponsor), ids only; through ``queryAll``, which also returns
     the role rows deleted since then (``IsDeleted`` true, stamped when deleted), so one query
     answers both;
  2. which opportunities had a playbook task completed since the watermark (completing a task
     leaves the opportunity alone too, and a task marked done while its problem persists must
     come back), ids only;
  3. every opportunity modified since the watermark, or whose key date falls in one of the
     window's date ranges, or found by 1. or 2.: one query, ordered by
     ``SystemModstamp, Id``, followed page by page through ``nextRecordsUrl``.
The window's own ``ids`` (engagements asked for by id whether or not they changed) ride along
with the ids from 1. and 2. in the same ``Id IN (...)`` test, so they cost no call of their
own. Ids that do not fit the URI limit of 3. are fetched in further id-chunked queries. The
pull is a generator, records are mapped as each page arrives, and an id already yielded in
this pull is never yielded twice. A full scan ignores ``ids``: it returns every engagement
anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from servefirst.connectors.base import PullWindow, UnmappableRecord
from servefirst.connectors.salesforce import soql
from servefirst.connectors.salesforce.client import SalesforceClient
from servefirst.connectors.salesforce.ids import to18
from servefirst.connectors.salesforce.mapping import SalesforceMapping
from servefirst.connectors.salesforce.retry import describe
from servefirst.playbook.errors import ConfigError, RecordError
from servefirst.playbook.model import Engagement

log = logging.getLogger(__name__)

#: Child relationships the main query embeds, and how to fetch the rest of one by parent id.
CHILDREN = ("OpportunityContactRoles", "Tasks")


class Puller:
    """Runs the pull queries of one connection and maps what they return."""

    def __init__(
        self,
        client: SalesforceClient,
        mapping: SalesforceMapping,
        *,
        overlap: dt.timedelta = soql.DEFAULT_OVERLAP,
        batch_size: int | None = None,
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.query = soql.OpportunityQuery(mapping.fields, mapping.sponsor_role)
        self.overlap = overlap
        self.headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}

    def pull(self, window: PullWindow) -> Iterator[Engagement | UnmappableRecord]:
        """Yield the engagements the window asks for, page by page.

        An opportunity that cannot be mapped comes out as an ``UnmappableRecord``: the engine
        reports it and keeps it in its retry set.
        """
        seen: set[str] = set()
        condition = soql.where_changed(self.mapping.fields, window, self.overlap)
        start = soql.since(window, self.overlap)
        extra: list[str] = []
        if start is not None:
            extra = list(dict.fromkeys([*self._changed_around(start), *_valid_ids(window.ids)]))
        chunks = list(
            soql.split_by_uri(
                extra, lambda ids: soql.opportunities(self.query, _or_ids(condition, ids))
            )
        )
        first = chunks[0] if chunks else []
        main = soql.opportunities(self.query, _or_ids(condition, first))
        for record in self._records(main):
            yield from self._emit(record, seen)
        for chunk in chunks[1:]:
            pending = [i for i in chunk if i not in seen]
            if pending:
                for record in self._records(soql.by_ids(self.query, pending)):
                    yield from self._emit(record, seen)

    def _changed_around(self, start: dt.datetime) -> list[str]:
        """Distinct ids of opportunities changed since ``start`` without their stamp moving.

        Two kinds: a contact role was edited, or a playbook task was completed (one query
        each, whatever the number of records).
        """
        ids: dict[str, None] = {}
        asks = (
            (soql.changed_roles(start), "OpportunityId", True),
            (soql.completed_tasks(self.mapping.fields.task_key, start), "WhatId", False),
        )
        for query, column, deleted_too in asks:
            for row in self._records(query, complete_children=False, include_deleted=deleted_too):
                if row.get(column):
                    ids[str(row[column])] = None
        return list(ids)

    def _emit(
        self, record: Mapping[str, Any], seen: set[str]
    ) -> Iterator[Engagement | UnmappableRecord]:
        record_id = str(record.get("Id"))
        if record_id in seen:
            return
        seen.add(record_id)
        try:
            yield self.mapping.to_engagement(record)
        except RecordError as exc:
            yield UnmappableRecord(record_id, str(exc))

    def _records(
        self, query: str, *, complete_children: bool = True, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every record of a query, one page in memory at a time (``queryAll`` if asked)."""
        headers = self.headers

        def first(sf: Salesforce) -> Any:
            return sf.query(query, include_deleted=include_deleted, headers=headers)

        try:
            page = self.client.call("query", first)
        except SalesforceMalformedRequest as exc:
            raise ConfigError(
                "Salesforce rejected the pull query. If it names an unknown field, run "
                "`servefirst provision` (a new field stays invisible until the permission set "
                "grants it) or fix the field names under [connections.<name>.fields]",
                connection=self.client.name,
                crm_object="Opportunity",
                response=describe(exc),
            ) from None
        while True:
            for record in page.get("records") or []:
                yield self._complete(record) if complete_children else record
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.client.call("query page", _more(str(page["nextRecordsUrl"]), headers))

    def _complete(self, record: dict[str, Any]) -> dict[str, Any]:
        """Fetch the rest of a child subquery Salesforce paged (simple-salesforce does not)."""
        for relationship in CHILDREN:
            child = record.get(relationship)
            if not child or child.get("done", True):
                continue
            rows = list(child.get("records") or [])
            url = child.get("nextRecordsUrl")
            if url:
                while url:
                    page = self.client.call("child page", _more(str(url), self.headers))
                    rows.extend(page.get("records") or [])
                    url = None if page.get("done", True) else page.get("nextRecordsUrl")
            else:
                rows = list(self._records(self._child_query(relationship, str(record["Id"]))))
            record = {
                **record,
                relationship: {"totalSize": len(rows), "done": True, "records": rows},
            }
        return record

    def _child_query(self, relationship: str, opportunity_id: str) -> str:
        if relationship == "Tasks":
            return self.query.tasks_rest(opportunity_id)
        return self.query.roles_rest(opportunity_id)


def _more(url: str, headers: Mapping[str, str]) -> Any:
    def op(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True, headers=dict(headers))

    return op


def _valid_ids(ids: Sequence[str]) -> list[str]:
    """The 18-character form of each valid id; others are logged and left out.

    One malformed id in ``Id IN (...)`` fails the whole query, and such an id names no record.
    """
    valid: list[str] = []
    for record_id in ids:
        full = to18(record_id)
        if full is None:
            log.warning("not a Salesforce record id, not pulled: %r", record_id)
        else:
            valid.append(full)
    return valid


def _or_ids(condition: str, ids: Sequence[str]) -> str:
    """``condition OR Id IN (...)``: role-changed opportunities ride along in the main query."""
    if not ids:
        return condition
    return soql.or_ids(condition, ids)
