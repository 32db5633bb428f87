"""The state store: watermarks, last seen key dates, run history and every change.

One ``StateStore`` wraps one SQLAlchemy engine: a SQLite file by default (created with its
folder on first use), PostgreSQL when the configured URL says so. Opening it migrates the schema,
so a store is always current. Every method is one short transaction: the engine commits each
batch's changes and key dates as it goes, so a killed process leaves history consistent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from servefirst.config.private import create_private
from servefirst.playbook.errors import ConfigError
from servefirst.sync.state import schema
from servefirst.sync.state.history import HistoryStore
from servefirst.sync.state.lease import LeaseStore, pid_alive
from servefirst.sync.state.records import (
    TOTAL_NAMES,
    EngagementDates,
    RunKind,
    RunRecord,
    RunStatus,
    RunTotals,
    Watermark,
)
from servefirst.sync.state.replace import CHUNK, replace_rows
from servefirst.sync.state.retry import RetrySetStore
from servefirst.sync.state.snapshots import SnapshotTable
from servefirst.sync.state.stamps import StampTable


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything stored is UTC, so say so."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def create_state_engine(url: str) -> Engine:
    """An engine for the state URL; a SQLite file's folder is created on first use."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"state_url is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            # SQLite gives its WAL and shared-memory files the database file's mode, so
            # creating the file first, private, keeps all three private.
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_private(path)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ArgumentError) as exc:
        raise ConfigError(f"cannot use state_url {parsed!r}: {exc}") from None


#: How long a new connection waits for another opener to finish switching the file to WAL.
_WAL_WAIT_SECONDS = 30.0


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `servefirst runs list` read while the scheduler writes; foreign keys keep
    # changes tied to their run. Turning off the driver's own transaction handling lets
    # `_sqlite_begin` emit BEGIN itself, so that DDL is transactional like everything else.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    _wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal(cursor: Any) -> None:
    """Switch to WAL, waiting out another opener: SQLite answers "database is locked" at once,
    without its busy timeout, when two processes open a new database together and both ask."""
    deadline = time.monotonic() + _WAL_WAIT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            return


def _sqlite_begin(conn: Connection) -> None:
    # Every transaction takes the write lock up front. Processes sharing the file (the
    # scheduler, a CLI run, `runs list`) then wait their turn under the busy timeout, instead of
    # failing with "database is locked" when a read-then-write transaction finds that another
    # process wrote in between (SQLite cannot upgrade a stale read snapshot). Transactions here
    # are short, so taking turns costs nothing noticeable.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class StateStore(HistoryStore, RetrySetStore, LeaseStore):
    """Everything servefirst remembers between runs, for every connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.snapshots = SnapshotTable(engine)
        self.stamps = StampTable(engine)
        try:
            self.version = schema.migrate(engine)
        except schema.SchemaTooNewError as exc:
            engine.dispose()
            raise ConfigError(
                f"the state database {engine.url!r} was written by a newer servefirst (schema "
                f"version {exc.found}; this one knows up to {exc.known}): upgrade servefirst, "
                "or point state_url at another database"
            ) from None
        except SQLAlchemyError as exc:
            raise ConfigError(
                f"cannot open the state database {engine.url!r}: {exc.__class__.__name__}: "
                f"{exc.orig if hasattr(exc, 'orig') else exc}"
            ) from None

    @classmethod
    def open(cls, url: str) -> StateStore:
        """Open (creating and migrating as needed) the state database at ``url``."""
        return cls(create_state_engine(url))

    def close(self) -> None:
        self.engine.dispose()

    def get_watermark(self, connection: str) -> Watermark | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(schema.watermarks).where(schema.watermarks.c.connection == connection)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return Watermark(
            connection=connection,
            modified_since=_utc(row["modified_since"]),
            as_of=row["as_of"],
            run_id=row["run_id"],
            playbook_digest=row["playbook_digest"],
        )

    def set_watermark(
        self,
        connection: str,
        modified_since: dt.datetime,
        as_of: dt.date,
        run_id: int | None,
        playbook_digest: str = "",
    ) -> None:
        values = {
            "modified_since": _utc(modified_since),
            "as_of": as_of,
            "run_id": run_id,
            "playbook_digest": playbook_digest,
            "updated_at": _now(),
        }
        table = schema.watermarks
        with self.engine.begin() as conn:
            done = conn.execute(
                update(table).where(table.c.connection == connection).values(**values)
            )
            if done.rowcount == 0:
                conn.execute(insert(table).values(connection=connection, **values))

    def get_engagement_dates(
        self, connection: str, engagement_ids: Iterable[str]
    ) -> dict[str, EngagementDates]:
        """The remembered dates of the given engagements (absent ones are not in the result)."""
        table = schema.engagement_dates
        ids = list(dict.fromkeys(engagement_ids))
        found: dict[str, EngagementDates] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                query = select(table).where(
                    table.c.connection == connection, table.c.engagement_id.in_(chunk)
                )
                for row in conn.execute(query).mappings():
                    found[row["engagement_id"]] = EngagementDates(
                        engagement_id=row["engagement_id"],
                        last_operational_date=row["last_operational_date"],
                        slips=row["slips"],
                        first_seen=_utc(row["first_seen"]),
                    )
        return found

    def put_engagement_dates(self, connection: str, rows: Sequence[EngagementDates]) -> None:
        """Insert or replace the remembered dates of these engagements, in one transaction."""
        if not rows:
            return
        table = schema.engagement_dates
        now = _now()
        ids = [r.engagement_id for r in rows]
        values = [
            {
                "connection": connection,
                "engagement_id": r.engagement_id,
                "last_operational_date": r.last_operational_date,
                "slips": r.slips,
                "first_seen": _utc(r.first_seen),
                "updated_at": now,
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            replace_rows(conn, table, connection, table.c.engagement_id, ids, values)

    def start_run(
        self,
        connection: str,
        crm: str,
        as_of: dt.date,
        *,
        dry_run: bool,
        full_scan: bool,
        reverts_run_id: int | None = None,
    ) -> int:
        """Record a run as ``running`` before it touches the CRM, so a killed run stays visible.

        Earlier ``running`` rows of this connection whose process (on this host) is gone are
        marked ``interrupted`` first. ``reverts_run_id`` makes it the revert of that run.
        """
        kind = RunKind.SYNC if reverts_run_id is None else RunKind.REVERT
        self.mark_interrupted(connection)
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(schema.runs).values(
                    connection=connection,
                    crm=crm,
                    started_at=_now(),
                    as_of=as_of,
                    status=RunStatus.RUNNING.value,
                    dry_run=dry_run,
                    full_scan=full_scan,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    kind=kind.value,
                    reverts_run_id=reverts_run_id,
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # noqa: S101 - an insert into a table with an id always has one
            return int(key[0])

    def mark_interrupted(self, connection: str) -> int:
        """Mark the dead ``running`` runs of ``connection`` as ``interrupted``; return how many."""
        table = schema.runs
        host = socket.gethostname()
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(table.c.id, table.c.host, table.c.pid).where(
                    table.c.connection == connection,
                    table.c.status == RunStatus.RUNNING.value,
                )
            ).all()
            dead = [r.id for r in rows if r.host == host and not pid_alive(r.pid)]
            if dead:
                conn.execute(
                    update(table)
                    .where(table.c.id.in_(dead))
                    .values(
                        status=RunStatus.INTERRUPTED.value,
                        error_message="the process running this sync stopped before it finished",
                    )
                )
        return len(dead)

    def finish_run(
        self,
        run_id: int,
        *,
        status: RunStatus,
        totals: RunTotals,
        duration_seconds: float,
        error_message: str | None = None,
        full_scan: bool | None = None,
    ) -> None:
        """Record how a run ended; ``full_scan`` corrects the flag when the engine chose one."""
        values: dict[str, object] = {name: getattr(totals, name) for name in TOTAL_NAMES}
        if full_scan is not None:
            values["full_scan"] = full_scan
        values.update(
            status=status.value,
            finished_at=_now(),
            duration_seconds=duration_seconds,
            findings_by_rule=json.dumps(totals.findings_by_rule, sort_keys=True),
            error_message=error_message,
        )
        with self.engine.begin() as conn:
            conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))

    def list_runs(self, connection: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        table = schema.runs
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if connection is not None:
            query = query.where(table.c.connection == connection)
        with self.engine.connect() as conn:
            return [_run(row) for row in conn.execute(query).mappings()]

    def last_full_scan(self, connection: str) -> dt.datetime | None:
        """When the newest full scan that completed for real (not a dry run) started."""
        table = schema.runs
        query = (
            select(table.c.started_at)
            .where(
                table.c.connection == connection,
                table.c.full_scan.is_(True),
                table.c.dry_run.is_(False),
                table.c.status.in_(("ok", "partial")),
            )
            .order_by(table.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            started = conn.execute(query).scalar()
        return None if started is None else _utc(started)

    def get_run(self, run_id: int) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(schema.runs).where(schema.runs.c.id == run_id))
                .mappings()
                .first()
            )
        return None if row is None else _run(row)


def _run(row: RowMapping) -> RunRecord:
    totals = RunTotals(**{name: row[name] for name in TOTAL_NAMES})
    totals.findings_by_rule = json.loads(row["findings_by_rule"] or "{}")
    finished = row["finished_at"]
    return RunRecord(
        id=row["id"],
        connection=row["connection"],
        crm=row["crm"],
        started_at=_utc(row["started_at"]),
        finished_at=None if finished is None else _utc(finished),
        as_of=row["as_of"],
        status=RunStatus(row["status"]),
        dry_run=bool(row["dry_run"]),
        full_scan=bool(row["full_scan"]),
        totals=totals,
        duration_seconds=row["duration_seconds"],
        error_message=row["error_message"],
        host=row["host"],
        pid=row["pid"],
        kind=row["kind"],
        reverts_run_id=row["reverts_run_id"],
    )
