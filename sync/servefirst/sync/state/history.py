"""Every change a run made: written batch by batch, read back with engagement names.

Kept apart from the rest of the store because history is what people and reverts read: each
change carries its engagement's name, and a revert finds the text a task was last opened with.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from sqlalchemy import Engine, insert, select

from servefirst.sync.state import schema
from servefirst.sync.state.records import ChangeRecord
from servefirst.sync.state.replace import CHUNK
from servefirst.sync.state.snapshots import SnapshotTable


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _unjson(text: str | None) -> object:
    return None if text is None else json.loads(text)


class HistoryStore:
    """Change history queries of ``StateStore`` (kept in their own module)."""

    engine: Engine
    snapshots: SnapshotTable

    def record_changes(
        self,
        run_id: int,
        rows: Sequence[ChangeRecord],
        names: Mapping[str, str] | None = None,
    ) -> None:
        """Keep these changes of a run; ``names`` (engagement id -> name) fills in their names."""
        if not rows:
            return
        names = names or {}
        with self.engine.begin() as conn:
            conn.execute(
                insert(schema.changes),
                [
                    {
                        "run_id": run_id,
                        "record_id": r.record_id,
                        "kind": r.kind,
                        "name": r.name,
                        "task_key": r.task_key,
                        "before": _json(r.before),
                        "after": _json(r.after),
                        "ok": r.ok,
                        "message": r.message,
                        "engagement_name": r.engagement_name or names.get(r.record_id),
                        "detail": _json(r.detail),
                    }
                    for r in rows
                ],
            )

    def get_changes(
        self,
        run_id: int,
        limit: int | None = None,
        record_ids: Collection[str] | None = None,
    ) -> list[ChangeRecord]:
        """A run's changes in the order it made them, each with its engagement's name.

        History written before names were kept takes the name from the engagement's snapshot.
        ``record_ids`` keeps only the changes of those engagements.
        """
        table = schema.changes
        query = select(table).where(table.c.run_id == run_id).order_by(table.c.id)
        if record_ids is not None:
            query = query.where(table.c.record_id.in_(list(record_ids)))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = [
                ChangeRecord(
                    record_id=row["record_id"],
                    kind=row["kind"],
                    name=row["name"],
                    before=_unjson(row["before"]),
                    after=_unjson(row["after"]),
                    task_key=row["task_key"],
                    ok=row["ok"],
                    message=row["message"],
                    engagement_name=row["engagement_name"],
                    detail=_unjson(row["detail"]),  # type: ignore[arg-type]
                )
                for row in conn.execute(query).mappings()
            ]
            unnamed = [r.record_id for r in rows if r.engagement_name is None]
            runs = schema.runs
            connection = (
                conn.execute(select(runs.c.connection).where(runs.c.id == run_id)).scalar()
                if unnamed
                else None
            )
        if connection is None:
            return rows
        names = self.snapshots.names(str(connection), unnamed)
        return [
            r
            if r.engagement_name is not None
            else replace(r, engagement_name=names.get(r.record_id))
            for r in rows
        ]


def task_texts(
    engine: Engine, connection: str, keys: Iterable[str]
) -> dict[str, dict[str, object]]:
    """The text each of these tasks last had, by task key.

    Every playbook task is opened (or reopened) by a sync, which keeps the task's subject,
    description, due date and owner; a later rewording replaces subject and description. A
    task closed afterwards is reopened with exactly that text.
    """
    changes, runs = schema.changes, schema.runs
    wanted = list(dict.fromkeys(keys))
    found: dict[str, dict[str, object]] = {}
    with engine.connect() as conn:
        for start in range(0, len(wanted), CHUNK):
            query = (
                select(changes.c.task_key, changes.c.kind, changes.c.detail, changes.c.after)
                .join(runs, runs.c.id == changes.c.run_id)
                .where(
                    runs.c.connection == connection,
                    changes.c.kind.in_(("task_open", "task_reopen", "task_update")),
                    changes.c.ok.is_(True),
                    changes.c.task_key.in_(wanted[start : start + CHUNK]),
                )
                .order_by(changes.c.id)
            )
            for key, kind, detail, after in conn.execute(query):
                if kind == "task_update" and after is not None and str(key) in found:
                    found[str(key)].update(json.loads(after))  # later rows win: the latest words
                elif detail is not None:
                    found[str(key)] = json.loads(detail)
    return found
