"""``query``, ``queryAll``, their cursors, and the Tooling API's ``tooling/query``.

``columns=true`` answers the query's column metadata instead of its rows (see
``soql/columns.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from servefirst.connectors.salesforce.sandbox.errors import bad_request
from servefirst.connectors.salesforce.sandbox.http import AfterWrite, Call, api_route
from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.query import batch_size
from servefirst.connectors.salesforce.sandbox.soql.columns import ColumnCompiler
from servefirst.connectors.salesforce.sandbox.soql.parser import parse


def _text(call: Call) -> str:
    text = call.query.get("q")
    if not text:
        raise bad_request("MALFORMED_QUERY", "A query string has to be specified")
    return text


def _run(
    call: Call, endpoint: str, *, include_deleted: bool, tooling: bool = False
) -> tuple[int, Any]:
    catalog = call.org.catalog(tooling=tooling, include_deleted=include_deleted)
    if call.query.get("columns", "").lower() == "true":
        text = _text(call)
        return 200, ColumnCompiler(text, catalog).describe(parse(text))
    result = call.org.queries.run(
        _text(call),
        catalog,
        version=call.version,
        batch=batch_size(call.header("sforce-query-options")),
        endpoint=endpoint,
        tooling=tooling,
    )
    return 200, result


def _query(call: Call) -> tuple[int, Any]:
    return _run(call, "query", include_deleted=False)


def _query_all(call: Call) -> tuple[int, Any]:
    # Documented: a queryAll's nextRecordsUrl names /query/<locator>; /queryAll/<locator>
    # serves the same cursor.
    return _run(call, "query", include_deleted=True)


def _tooling_query(call: Call) -> tuple[int, Any]:
    return _run(call, "tooling/query", include_deleted=False, tooling=True)


def _more(call: Call) -> tuple[int, Any]:
    return 200, call.org.queries.more(call.params["locator"], call.version)


def routes(org: Org, after_write: AfterWrite) -> list[Route]:
    table: list[tuple[str, Any]] = [
        ("/query", _query),
        ("/query/{locator}", _more),
        ("/queryAll", _query_all),
        ("/queryAll/{locator}", _more),
        ("/tooling/query", _tooling_query),
    ]
    return [r for path, fn in table for r in api_route(org, path, ["GET"], fn, after_write)]
