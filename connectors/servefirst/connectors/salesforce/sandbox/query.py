"""Running SOQL for the query, queryAll and Tooling query endpoints, with server-side cursors.

A query's matching rows are computed once; pages are rendered on demand from the cursor, as
``nextRecordsUrl`` = ``/services/data/vNN.N/query/<locator>-<offset>``. The page size is 2000
unless the request's ``Sforce-Query-Options: batchSize=N`` asks for another (200 to 2000).
Like Salesforce, the cursor is a snapshot of the rows matched when the query ran.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from servefirst.connectors.salesforce.sandbox.errors import bad_request
from servefirst.connectors.salesforce.sandbox.ids import checksum
from servefirst.connectors.salesforce.sandbox.soql.aggregate import AggregateCompiler
from servefirst.connectors.salesforce.sandbox.soql.compiled import Catalog, CompiledQuery
from servefirst.connectors.salesforce.sandbox.soql.compiler import Compiler
from servefirst.connectors.salesforce.sandbox.soql.nodes import Query
from servefirst.connectors.salesforce.sandbox.soql.parser import parse
from servefirst.connectors.salesforce.sandbox.store import Record

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 50
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def batch_size(header: str | None) -> int:
    """The page size asked for by ``Sforce-Query-Options`` (clamped to 200..2000)."""
    match = _BATCH_OPTION.search(header or "")
    if match is None:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match.group(1))))


@dataclass
class _Cursor:
    compiled: CompiledQuery
    rows: list[Record]
    batch: int
    endpoint: str


class QueryService:
    """Executes queries and keeps recent cursors for ``query_more``."""

    def __init__(self) -> None:
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._lock = threading.Lock()
        #: Serve at most this many records a page (``POST /__sandbox__/page-cap``). Salesforce
        #: treats ``batchSize`` as a hint and may send smaller pages; a test sets a small cap to
        #: page through a handful of records and change the org between pages.
        self.page_cap: int | None = None

    def run(
        self,
        text: str,
        catalog: Catalog,
        *,
        version: str,
        batch: int,
        endpoint: str,
        tooling: bool = False,
    ) -> dict[str, Any]:
        parsed = parse(text)
        if parsed.aggregate:
            return self._aggregate(text, parsed, catalog)
        compiled = Compiler(text, catalog).compile(parsed)
        rows = compiled.rows(catalog.store.tables[compiled.obj.name].values())
        if compiled.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        if tooling:
            return self._tooling_page(compiled, rows, version)
        if self.page_cap is not None:
            batch = min(batch, self.page_cap)
        cursor = _Cursor(compiled, rows, batch, endpoint)
        return self._page(cursor, self._remember(cursor) if len(rows) > batch else "", 0, version)

    @staticmethod
    def _aggregate(text: str, parsed: Query, catalog: Catalog) -> dict[str, Any]:
        """AggregateResult rows, all in one reply (aggregate queries are never paged)."""
        compiled = AggregateCompiler(text, catalog).compile_aggregate(parsed)
        table = catalog.store.tables[compiled.obj.name].values()
        records = compiled.results(table, catalog.include_deleted)
        return {"totalSize": len(records), "done": True, "records": records}

    def more(self, locator: str, version: str) -> dict[str, Any]:
        """The page at ``<locator>-<offset>``; INVALID_QUERY_LOCATOR if unknown or expired."""
        key, _, start = locator.rpartition("-")
        with self._lock:
            cursor = self._cursors.get(key)
        if cursor is None or not start.isdigit() or int(start) >= len(cursor.rows):
            raise bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, key, int(start), version)

    def _remember(self, cursor: _Cursor) -> str:
        id15 = "01g" + secrets.token_hex(6)
        key = id15 + checksum(id15)
        with self._lock:
            self._cursors[key] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return key

    def _page(self, cursor: _Cursor, key: str, start: int, version: str) -> dict[str, Any]:
        end = start + cursor.batch
        page = cursor.rows[start:end]
        done = end >= len(cursor.rows)
        result: dict[str, Any] = {"totalSize": len(cursor.rows), "done": done}
        if not done:
            result["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.endpoint}/{key}-{end}"
        result["records"] = [cursor.compiled.render(r, version) for r in page]
        return result

    def _tooling_page(
        self, compiled: CompiledQuery, rows: list[Record], version: str
    ) -> dict[str, Any]:
        heavy = [d.name for d in compiled.selected if d.name in ("FullName", "Metadata")]
        if heavy and len(rows) > 1:
            raise bad_request(
                "MALFORMED_QUERY",
                "When retrieving results with Metadata or FullName fields, the query "
                "qualifications must specify no more than one row for retrieval. "
                f"Result size: {len(rows)}",
            )
        return {
            "size": len(rows),
            "totalSize": len(rows),
            "done": True,
            "queryLocator": None,
            "entityTypeName": compiled.obj.name,
            "records": [compiled.render(r, version) for r in rows],
        }
