"""Each engagement's latest evaluated state, and the pipeline's health after every run.

A report must cost no API call, so every real sync leaves behind what reports need: one
snapshot row per engagement (replaced batch by batch as the run evaluates it) and, once the run
has read everything, one ``pipeline_history`` row that sums the snapshots up. The trend charts
read the history rows; everything else reads the snapshots.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, RowMapping, delete, func, insert, select

from servefirst.sync.state import schema
from servefirst.sync.state.records import EngagementSnapshot, FindingSnapshot, PipelinePoint
from servefirst.sync.state.replace import CHUNK, replace_rows

_HEALTH = ("on_track", "at_risk", "off_track")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SnapshotTable:
    """Reads and writes the ``snapshots`` and ``pipeline_history`` tables of one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, connection: str, rows: Sequence[EngagementSnapshot]) -> None:
        """Insert or replace these engagements' snapshots, in one transaction."""
        if not rows:
            return
        table = schema.snapshots
        now = _now()
        ids = [r.engagement_id for r in rows]
        values = [_values(connection, r, now) for r in rows]
        with self.engine.begin() as conn:
            replace_rows(conn, table, connection, table.c.engagement_id, ids, values)

    def close_run(self, connection: str, run_id: int, as_of: dt.date, *, full_scan: bool) -> None:
        """Sum the pipeline up after a run that read all it meant to.

        After a full scan, an engagement this run did not read is gone from the CRM (deleted,
        or moved out of the managed pipeline): its snapshot goes too, so reports never count
        it again.
        """
        table = schema.snapshots
        by_health: Counter[str] = Counter()
        by_rule: Counter[str] = Counter()
        total = 0
        with self.engine.begin() as conn:
            if full_scan:
                conn.execute(
                    delete(table).where(table.c.connection == connection, table.c.run_id < run_id)
                )
            query = select(table.c.health, table.c.findings).where(table.c.connection == connection)
            for health, findings in conn.execute(query):
                total += 1
                by_health[health or ""] += 1
                by_rule.update({f["rule"] for f in json.loads(findings or "[]")})
            conn.execute(
                insert(schema.pipeline_history).values(
                    run_id=run_id,
                    connection=connection,
                    as_of=as_of,
                    engagements=total,
                    findings_by_rule=json.dumps(dict(sorted(by_rule.items()))),
                    recorded_at=_now(),
                    **{name: by_health[name] for name in _HEALTH},
                )
            )

    def all(self, connections: Iterable[str] | None = None) -> list[EngagementSnapshot]:
        """Every snapshot of these connections (all when ``None``), by name."""
        table = schema.snapshots
        query = select(table).order_by(table.c.name, table.c.engagement_id)
        if connections is not None:
            query = query.where(table.c.connection.in_(list(connections)))
        with self.engine.connect() as conn:
            return [_snapshot(row) for row in conn.execute(query).mappings()]

    def connections(self) -> list[str]:
        """The connections that have snapshots, sorted."""
        table = schema.snapshots
        with self.engine.connect() as conn:
            query = select(table.c.connection).distinct().order_by(table.c.connection)
            return [str(c) for c in conn.execute(query).scalars()]

    def history(self, connections: Iterable[str] | None = None) -> list[PipelinePoint]:
        """The pipeline after each run, oldest first."""
        table = schema.pipeline_history
        query = select(table).order_by(table.c.run_id)
        if connections is not None:
            query = query.where(table.c.connection.in_(list(connections)))
        with self.engine.connect() as conn:
            return [
                PipelinePoint(
                    run_id=row["run_id"],
                    connection=row["connection"],
                    as_of=row["as_of"],
                    engagements=row["engagements"],
                    on_track=row["on_track"],
                    at_risk=row["at_risk"],
                    off_track=row["off_track"],
                    findings_by_rule=json.loads(row["findings_by_rule"] or "{}"),
                )
                for row in conn.execute(query).mappings()
            ]

    def names(self, connection: str, engagement_ids: Iterable[str]) -> dict[str, str]:
        """The latest known name of each of these engagements (unknown ones are left out)."""
        table = schema.snapshots
        ids = list(dict.fromkeys(engagement_ids))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                query = select(table.c.engagement_id, table.c.name).where(
                    table.c.connection == connection,
                    table.c.engagement_id.in_(ids[start : start + CHUNK]),
                )
                found.update({str(i): str(n) for i, n in conn.execute(query)})
        return found

    def find(self, connection: str, text: str) -> list[str]:
        """Ids of the engagements of ``connection`` that ``text`` names: an id, or a name.

        A name matches case-insensitively, whole or in part, in snapshots and in history.
        """
        changes, snaps = schema.changes, schema.snapshots
        needle = f"%{text.lower()}%"
        with self.engine.connect() as conn:
            in_history = select(changes.c.record_id).where(
                changes.c.run_id.in_(
                    select(schema.runs.c.id).where(schema.runs.c.connection == connection)
                ),
                (changes.c.record_id == text) | func.lower(changes.c.engagement_name).like(needle),
            )
            in_snapshots = select(snaps.c.engagement_id).where(
                snaps.c.connection == connection,
                (snaps.c.engagement_id == text) | func.lower(snaps.c.name).like(needle),
            )
            found = {str(i) for i in conn.execute(in_history.distinct()).scalars()}
            found |= {str(i) for i in conn.execute(in_snapshots).scalars()}
        return sorted(found)


def _values(connection: str, r: EngagementSnapshot, now: dt.datetime) -> dict[str, object]:
    findings = [{"rule": f.rule, "severity": f.severity, "message": f.message} for f in r.findings]
    return {
        "connection": connection,
        "engagement_id": r.engagement_id,
        "run_id": r.run_id,
        "as_of": r.as_of,
        "name": r.name,
        "account": r.account,
        "owner_id": r.owner_id,
        "owner_name": r.owner_name,
        "status": r.status,
        "stage": r.stage,
        "stage_label": r.stage_label,
        "stage_rank": r.stage_rank,
        "amount": r.amount,
        "po_date": r.po_date,
        "operational_date": r.operational_date,
        "timetable": r.timetable,
        "health": r.health,
        "findings": json.dumps(findings),
        "slips": r.slips,
        "waiver": r.waiver,
        "url": r.url,
        "updated_at": now,
    }


def _snapshot(row: RowMapping) -> EngagementSnapshot:
    return EngagementSnapshot(
        engagement_id=row["engagement_id"],
        name=row["name"],
        status=row["status"],
        stage=row["stage"],
        stage_label=row["stage_label"],
        stage_rank=row["stage_rank"],
        health=row["health"],
        findings=tuple(
            FindingSnapshot(f["rule"], f["severity"], f["message"])
            for f in json.loads(row["findings"] or "[]")
        ),
        slips=row["slips"],
        account=row["account"],
        owner_id=row["owner_id"],
        owner_name=row["owner_name"],
        amount=row["amount"],
        po_date=row["po_date"],
        operational_date=row["operational_date"],
        timetable=row["timetable"],
        waiver=row["waiver"],
        url=row["url"],
        run_id=row["run_id"],
        as_of=row["as_of"],
        connection=row["connection"],
    )
