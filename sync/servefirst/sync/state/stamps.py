"""The CRM's modification stamp of each record as servefirst last saw it, per connection.

A connector that can tell "this record still carries the stamp we last saw" skips the costly
reads around it (HubSpot: the association and task reads of a deal), which is what makes the
sync right after a writing one cheap: its own writes come back with their new stamps.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from sqlalchemy import Engine, select

from servefirst.sync.state import schema
from servefirst.sync.state.replace import delete_keys, replace_rows


class StampTable:
    """Reads and writes the ``record_stamps`` table of one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, connection: str) -> dict[str, str]:
        """Every remembered stamp of ``connection``, by record id."""
        table = schema.record_stamps
        query = select(table.c.record_id, table.c.stamp).where(table.c.connection == connection)
        with self.engine.connect() as conn:
            return {str(row.record_id): str(row.stamp) for row in conn.execute(query)}

    def put(self, connection: str, stamps: Mapping[str, str]) -> None:
        """Remember these stamps (replacing older ones of the same records), in one transaction."""
        if not stamps:
            return
        table = schema.record_stamps
        ids = list(stamps)
        rows = [{"connection": connection, "record_id": i, "stamp": s} for i, s in stamps.items()]
        with self.engine.begin() as conn:
            replace_rows(conn, table, connection, table.c.record_id, ids, rows)

    def keep_only(self, connection: str, present: Set[str]) -> int:
        """Forget the stamps of records not in ``present``; returns how many were forgotten.

        Called after a full scan, which read every record there is: a stamp it did not meet
        belongs to a record deleted (or moved out of the managed pipeline) since, and would
        otherwise stay in the state database for ever.
        """
        table = schema.record_stamps
        gone = sorted(set(self.get(connection)) - set(present))
        with self.engine.begin() as conn:
            delete_keys(conn, table, connection, table.c.record_id, gone)
        return len(gone)
