"""History queries beyond one run's rows: what a revert needs to know about earlier runs."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, select

from servefirst.sync.state import schema

_CHUNK = 500  # keys per IN (...) query: well under every backend's parameter limit


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
        for start in range(0, len(wanted), _CHUNK):
            query = (
                select(changes.c.task_key, changes.c.kind, changes.c.detail, changes.c.after)
                .join(runs, runs.c.id == changes.c.run_id)
                .where(
                    runs.c.connection == connection,
                    changes.c.kind.in_(("task_open", "task_reopen", "task_update")),
                    changes.c.ok.is_(True),
                    changes.c.task_key.in_(wanted[start : start + _CHUNK]),
                )
                .order_by(changes.c.id)
            )
            for key, kind, detail, after in conn.execute(query):
                if kind == "task_update" and after is not None and str(key) in found:
                    found[str(key)].update(json.loads(after))  # later rows win: the latest words
                elif detail is not None:
                    found[str(key)] = json.loads(detail)
    return found
