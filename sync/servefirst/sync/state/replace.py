"""Insert-or-replace of per-record rows, the same way on SQLite and PostgreSQL.

Snapshots, remembered dates and record stamps are all "the latest row per (connection,
record)": deleting the keys first (in chunks that stay under every backend's parameter limit)
and inserting the new rows in the same transaction needs no dialect-specific upsert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, insert

CHUNK = 500  # ids per IN (...) query: well under every backend's parameter limit


def replace_rows(
    conn: Connection,
    table: Table,
    connection: str,
    key: Column[Any],
    ids: Sequence[str],
    rows: list[dict[str, Any]],
) -> None:
    """Delete ``connection``'s rows whose ``key`` is in ``ids``, then insert ``rows``."""
    delete_keys(conn, table, connection, key, ids)
    if rows:
        conn.execute(insert(table), rows)


def delete_keys(
    conn: Connection, table: Table, connection: str, key: Column[Any], ids: Sequence[str]
) -> None:
    """Delete ``connection``'s rows whose ``key`` is in ``ids``, ``CHUNK`` ids per statement."""
    for start in range(0, len(ids), CHUNK):
        conn.execute(
            delete(table).where(
                table.c.connection == connection, key.in_(ids[start : start + CHUNK])
            )
        )
