"""Optional persistence of the whole org to one SQLite file.

Write-through: after every API request that changes data (and after in-process seeding), the
records touched since the last flush are written in one transaction, so the file is always
current and a killed sandbox loses at most the request in flight; nothing is needed at stop.
On start, a non-empty file is loaded instead of bootstrapping a fresh org: metadata first
(custom fields define how the data rows decode), then the data.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from servefirst.connectors.salesforce.sandbox.org import Org
from servefirst.connectors.salesforce.sandbox.store import Store
from servefirst.connectors.salesforce.sandbox.values import from_json, to_json

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (sobject TEXT NOT NULL, id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_FIRST = ("CustomField", "ValidationRule")


class SqlitePersistence:
    """Loads an org from, and flushes its changes to, one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.executescript(_SCHEMA)

    def stored_stages(self) -> str | None:
        """The stage set of the org the file holds, or ``None`` when it holds none yet."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'stages'").fetchone()
        return None if row is None else str(row[0])

    def load(self, org: Org) -> bool:
        """Fill ``org`` from the file; ``False`` (nothing loaded) when the file is empty."""
        stored = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not stored:
            return False
        if stored.get("stages") != org.options.stages:
            raise ValueError(
                f"{self.path} holds an org with the {stored.get('stages')!r} stages; start the "
                f"sandbox with stages={stored.get('stages')!r} or use another data file"
            )
        store = org.store
        # Metadata first; then by id, which is creation order (ids are counters), so child
        # records come back in the order they were created, as they were served before.
        order = "CASE WHEN sobject IN ('CustomField','ValidationRule') THEN 0 ELSE 1 END, id"
        rows = self._db.execute(f"SELECT sobject, id, body FROM records ORDER BY {order}")  # noqa: S608 - constant
        for sobject, record_id, body in rows:
            obj = store.object(sobject)
            raw: dict[str, Any] = json.loads(body)
            record = {}
            for key, value in raw.items():
                definition = obj.fields.get(key)
                record[key] = from_json(definition, value) if definition else value
            # Metadata rows notify their listeners, so the custom fields exist before the data
            # rows that use them are decoded.
            store.put(sobject, record, notify=sobject in _FIRST)
            store.ids.observe(record_id)
        store.reindex()
        store.dirty.clear()
        org.adopt_loaded()
        org.rules.recompute()
        return True

    def flush(self, store: Store, stages: str) -> None:
        """Write every record changed since the last flush."""
        dirty, store.dirty = store.dirty, set()
        upserts = []
        deletes = []
        for sobject, record_id in dirty:
            record = store.tables[sobject].get(record_id)
            if record is None:
                deletes.append((record_id,))
            else:
                body = json.dumps({k: to_json(v) for k, v in record.items()})
                upserts.append((sobject, record_id, body))
        with self._db:
            self._db.executemany("DELETE FROM records WHERE id = ?", deletes)
            self._db.executemany(
                "INSERT OR REPLACE INTO records (sobject, id, body) VALUES (?, ?, ?)", upserts
            )
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('stages', ?)", (stages,))

    def close(self) -> None:
        self._db.close()
