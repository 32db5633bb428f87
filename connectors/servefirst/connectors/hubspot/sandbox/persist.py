"""Optional persistence of a portal to one SQLite file.

The sandbox works in memory; with ``data=`` it loads the file at start (when it exists) and
saves the whole portal when it stops, after seeding, and on ``POST /__sandbox__/save``. Saving
rewrites the file in one transaction, so a crash never leaves half a portal; writes between
two saves are lost on a crash, which suits a sandbox.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from servefirst.connectors.hubspot.sandbox.associations import Label
from servefirst.connectors.hubspot.sandbox.pipelines import Pipeline, Stage
from servefirst.connectors.hubspot.sandbox.schema import PropertyDef
from servefirst.connectors.hubspot.sandbox.store import Group, Portal, Record


def save(portal: Portal, path: Path) -> None:
    with portal.lock:
        next_id = next(portal.ids)
        portal.ids = itertools.count(next_id)
        meta: dict[str, Any] = {
            "next_id": next_id,
            "properties": {
                name: [asdict(p) for p in t.properties.values()]
                for name, t in portal.tables.items()
            },
            "groups": {
                name: [asdict(g) for g in t.groups.values()] for name, t in portal.tables.items()
            },
            "pipelines": [asdict(p) for p in portal.pipelines.by_id.values()],
            "pipeline_next_id": portal.pipelines.next_id,
            "labels": [asdict(lab) for lab in portal.association_schema.labels.values()],
            "label_next_id": portal.association_schema.next_id,
            "edges": [
                [a_type, a_id, b_type, b_id, sorted(ids)]
                for (a_type, a_id), by_type in portal.associations.edges.items()
                for b_type, targets in by_type.items()
                for b_id, ids in targets.items()
            ],
            "owners": portal.owners,
            "tokens": {k: [sorted(s), expired] for k, (s, expired) in portal.tokens.items()},
        }
        rows = [
            (
                name,
                record.id,
                int(archived),
                json.dumps(
                    [
                        record.props,
                        record.created_ms,
                        record.updated_ms,
                        record.archived_ms,
                        record.history,
                    ]
                ),
            )
            for name, table in portal.tables.items()
            for archived, source in ((False, table.records), (True, table.archived))
            for record in source.values()
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS records "
            "(type TEXT, id INTEGER, archived INTEGER, value TEXT, PRIMARY KEY (type, id))"
        )
        db.execute("DELETE FROM meta")
        db.execute("DELETE FROM records")
        db.execute("INSERT INTO meta VALUES ('portal', ?)", (json.dumps(meta),))
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)


def load(portal: Portal, path: Path) -> bool:
    """Loads a saved portal into ``portal``; False when there is no file yet."""
    if not path.exists():
        return False
    with sqlite3.connect(path) as db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key = 'portal'").fetchone()
        rows = db.execute("SELECT type, id, archived, value FROM records ORDER BY id").fetchall()
    meta = json.loads(raw)
    with portal.lock:
        portal.ids = itertools.count(int(meta["next_id"]))
        for name, table in portal.tables.items():
            table.properties = {p["name"]: PropertyDef(**p) for p in meta["properties"][name]}
            table.groups = {g["name"]: Group(**g) for g in meta["groups"][name]}
            table.records.clear()
            table.archived.clear()
            table.unique.clear()
        for name, record_id, archived, value in rows:
            props, created, updated, archived_ms, *rest = json.loads(value)
            record = Record(int(record_id), props, created, updated, archived_ms)
            if rest and rest[0]:
                record.history = {k: [(v, int(t)) for v, t in h] for k, h in rest[0].items()}
            table = portal.tables[name]
            (table.archived if archived else table.records)[record.id] = record
            if not archived:
                for unique in table.unique_names():
                    if props.get(unique):
                        table.unique.setdefault(unique, {})[props[unique]] = record.id
        portal.pipelines.by_id = {
            p["id"]: Pipeline(**{**p, "stages": [Stage(**s) for s in p["stages"]]})
            for p in meta["pipelines"]
        }
        portal.pipelines.next_id = int(meta["pipeline_next_id"])
        portal.association_schema.labels = {lab["type_id"]: Label(**lab) for lab in meta["labels"]}
        portal.association_schema.next_id = int(meta["label_next_id"])
        portal.associations.edges = {}
        for a_type, a_id, b_type, b_id, ids in meta["edges"]:
            portal.associations.edges.setdefault((a_type, a_id), {}).setdefault(b_type, {})[
                b_id
            ] = set(ids)
        portal.owners = meta["owners"]
        portal.tokens = {k: (frozenset(s), bool(e)) for k, (s, e) in meta["tokens"].items()}
        portal.version += 1
    return True
