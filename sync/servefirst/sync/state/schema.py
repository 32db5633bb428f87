"""The state database's tables and the migration runner that creates and upgrades them.

History is the product's audit trail (who changed what on which engagement, and when), so an
upgrade must never drop it: the schema evolves only through numbered steps applied in order,
each in its own transaction, and the applied version is kept in ``schema_version``. Opening a
database that is already current does nothing, so every process may call ``migrate`` safely.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("connection", String(100), primary_key=True),
    # The CRM's server time when the last successful run *started* pulling: edits made during
    # that run are re-read by the next one.
    Column("modified_since", DateTime(timezone=True), nullable=False),
    # The as-of date of that run: the next run pulls the records whose key dates lie between.
    Column("as_of", Date, nullable=False),
    Column("run_id", Integer, nullable=True),
    # Digest of the playbook that run evaluated: a changed playbook forces a full scan.
    Column("playbook_digest", String(64), nullable=False, default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

engagement_dates = Table(
    "engagement_dates",
    metadata,
    Column("connection", String(100), primary_key=True),
    Column("engagement_id", String(64), primary_key=True),
    Column("last_operational_date", Date, nullable=True),
    Column("slips", Integer, nullable=False, default=0),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("connection", String(100), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("as_of", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("full_scan", Boolean, nullable=False, default=False),
    Column("engagements_read", Integer, nullable=False, default=0),
    Column("records_updated", Integer, nullable=False, default=0),
    Column("fields_updated", Integer, nullable=False, default=0),
    Column("tasks_opened", Integer, nullable=False, default=0),
    Column("tasks_closed", Integer, nullable=False, default=0),
    Column("tasks_updated", Integer, nullable=False, default=0),
    Column("tasks_reopened", Integer, nullable=False, default=0),
    Column("conflicts_skipped", Integer, nullable=False, default=0),
    Column("record_errors", Integer, nullable=False, default=0),
    Column("on_track", Integer, nullable=False, default=0),
    Column("at_risk", Integer, nullable=False, default=0),
    Column("off_track", Integer, nullable=False, default=0),
    Column("api_calls_read", Integer, nullable=False, default=0),
    Column("api_calls_write", Integer, nullable=False, default=0),
    Column("duration_seconds", Float, nullable=True),
    # JSON object rule id -> number of findings, for `runs show` and the summary.
    Column("findings_by_rule", Text, nullable=False, default="{}"),
    Column("error_message", Text, nullable=True),
    # Who runs it, so that a later start can tell a crashed run from a live one elsewhere.
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    # "sync", or "revert" for a run that undid another (``reverts_run_id``): added by step 2.
    Column("kind", String(20), nullable=False, server_default="sync"),
    Column("reverts_run_id", Integer, nullable=True),
)
Index("ix_runs_connection_started", runs.c.connection, runs.c.started_at)

changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(64), nullable=False),
    # "field" (a neutral field name in `name`), or a task write (a rule in `name`): "task_open",
    # "task_reopen", "task_close" or "task_update" (before/after hold subject and body).
    Column("kind", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("task_key", String(255), nullable=True),
    Column("before", Text, nullable=True),  # JSON
    Column("after", Text, nullable=True),  # JSON
    # True written, False refused (``message`` has the CRM's words), NULL not attempted (dry
    # run, or the run stopped before the CRM confirmed it).
    Column("ok", Boolean, nullable=True),
    Column("message", Text, nullable=False, default=""),
    # Step 2: the engagement's name when the change was planned, so history reads without the
    # CRM; and for an opened task its text (JSON), so that a revert can reopen it as it was.
    Column("engagement_name", String(255), nullable=True),
    Column("detail", Text, nullable=True),
)
Index("ix_changes_run", changes.c.run_id)
Index("ix_changes_record", changes.c.record_id)

#: Columns step 2 adds to tables step 1 created (a database created fresh has them already,
#: because step 1 creates tables from these same definitions).
_V2_COLUMNS = (
    runs.c.kind,
    runs.c.reverts_run_id,
    changes.c.engagement_name,
    changes.c.detail,
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("connection", String(100), primary_key=True),
    Column("engagement_id", String(64), primary_key=True),
    # The run that last evaluated the engagement, and on which date.
    Column("run_id", Integer, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("name", String(255), nullable=False),
    Column("account", String(255), nullable=True),
    Column("owner_id", String(64), nullable=True),
    Column("owner_name", String(255), nullable=True),
    Column("status", String(10), nullable=False),
    # The playbook stage key (NULL when the CRM stage maps to none), its label for people, and
    # its place in the playbook's order so reports sort stages as reps walk them.
    Column("stage", String(40), nullable=True),
    Column("stage_label", String(255), nullable=False),
    Column("stage_rank", Integer, nullable=False),
    Column("amount", Float, nullable=True),
    Column("po_date", Date, nullable=True),
    Column("operational_date", Date, nullable=True),
    Column("timetable", Text, nullable=True),
    Column("health", String(20), nullable=True),
    Column("findings", Text, nullable=False, default="[]"),  # JSON [{rule, severity, message}]
    Column("slips", Integer, nullable=False, default=0),
    Column("waiver", Text, nullable=True),
    Column("url", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_snapshots_run", snapshots.c.run_id)

pipeline_history = Table(
    "pipeline_history",
    metadata,
    # One row per real run: the whole pipeline's health as the snapshots stood after it.
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("connection", String(100), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("engagements", Integer, nullable=False),
    Column("on_track", Integer, nullable=False),
    Column("at_risk", Integer, nullable=False),
    Column("off_track", Integer, nullable=False),
    Column("findings_by_rule", Text, nullable=False, default="{}"),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
Index("ix_pipeline_history_connection", pipeline_history.c.connection, pipeline_history.c.run_id)


retry_set = Table(
    "retry_set",
    metadata,
    Column("connection", String(100), primary_key=True),
    Column("engagement_id", String(64), primary_key=True),
    # The CRM's own words for the last refusal (or why the record could not be read).
    Column("reason", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    # Runs before this time leave the record alone (exponential backoff between attempts).
    Column("next_attempt", DateTime(timezone=True), nullable=False),
)

date_sensitive = Table(
    "date_sensitive",
    metadata,
    # Engagements whose written values depend on the as-of date itself (not only on threshold
    # crossings): re-pulled by id whenever a run's date differs from the watermark's.
    Column("connection", String(100), primary_key=True),
    Column("engagement_id", String(64), primary_key=True),
)

#: The CRM's modification stamp of each record as servefirst last saw it (read, or returned by
#: its own write): a record still carrying it has not changed since, and needs no re-reading.
record_stamps = Table(
    "record_stamps",
    metadata,
    Column("connection", String(100), primary_key=True),
    Column("record_id", String(64), primary_key=True),
    Column("stamp", String(64), nullable=False),
)

leases = Table(
    "leases",
    metadata,
    # One row per connection being synced: whoever holds it runs, everyone else waits or leaves.
    Column("connection", String(100), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    # A holder that stops heartbeating (killed, frozen, cut off) loses the lease at this time.
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("run_id", Integer, nullable=True),
)


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` N turns a version N-1 database into version N."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[watermarks, engagement_dates, runs, changes], checkfirst=True)


def _snapshots_v2(conn: Connection) -> None:
    """Add snapshots, pipeline history and the readable-history columns; keep every row."""
    for column in _V2_COLUMNS:
        table = column.table
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if column.name not in present:
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
    metadata.create_all(conn, tables=[snapshots, pipeline_history], checkfirst=True)


def _add_task_counts(conn: Connection) -> None:
    """Runs count the tasks they reworded and reopened (a version 1 table lacks the columns)."""
    have = {column["name"] for column in inspect(conn).get_columns(runs.name)}
    for name in ("tasks_updated", "tasks_reopened"):
        if name not in have:
            conn.execute(text(f"ALTER TABLE runs ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0"))


def _create_v4(conn: Connection) -> None:
    metadata.create_all(conn, tables=[retry_set, date_sensitive, leases], checkfirst=True)


def _create_v5(conn: Connection) -> None:
    metadata.create_all(conn, tables=[record_stamps], checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "watermarks, engagement dates, runs and changes", _create_v1),
    Migration(
        2, "engagement snapshots, pipeline history, names in history, revert runs", _snapshots_v2
    ),
    Migration(3, "runs count tasks updated and reopened", _add_task_counts),
    Migration(4, "retry set, date-sensitive engagements and run leases", _create_v4),
    Migration(5, "record stamps: what servefirst last saw or wrote of each record", _create_v5),
)


class SchemaTooNewError(Exception):
    """The database was upgraded by a newer servefirst than this one."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"schema version {found} is newer than this servefirst knows ({known})")
        self.found = found
        self.known = known


def current_version(engine: Engine) -> int:
    """The schema version of the database; 0 for an empty one."""
    if not inspect(engine).has_table(schema_version.name):
        return 0
    with engine.connect() as conn:
        return _version(conn)


def _version(conn: Connection) -> int:
    query = select(func.coalesce(func.max(schema_version.c.version), 0))
    return int(conn.execute(query).scalar_one())


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """One transaction that holds the schema lock, so concurrent migrators take turns.

    On PostgreSQL that is an explicit table lock; SQLite engines made by the store begin every
    transaction with the write lock already.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE schema_version IN SHARE ROW EXCLUSIVE MODE"))
        yield conn


def migrate(engine: Engine, steps: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply the steps newer than the database, in order, one transaction each.

    Returns the version reached. A step and its ``schema_version`` row commit together, so a
    crash mid-upgrade leaves the database at the previous version, ready to retry. Each step
    runs under a lock and re-reads the version first, so processes starting together (the
    scheduler and a CLI run) never apply a step twice.
    """
    ordered = sorted(steps, key=lambda m: m.version)
    if [m.version for m in ordered] != list(range(1, len(ordered) + 1)):
        raise ValueError("migration versions must be 1, 2, 3, ... without gaps")
    version = current_version(engine)
    if version > len(ordered):
        raise SchemaTooNewError(version, len(ordered))
    if version >= len(ordered):
        return version  # already current: the common case
    try:
        with engine.begin() as conn:
            schema_version.create(conn, checkfirst=True)
    except DBAPIError:
        if not inspect(engine).has_table(schema_version.name):
            raise  # a real failure, not another process creating it first
    for step in ordered:
        if step.version <= version:
            continue
        with _locked(engine) as conn:
            if _version(conn) < step.version:
                step.apply(conn)
                conn.execute(
                    insert(schema_version).values(
                        version=step.version,
                        description=step.description,
                        applied_at=dt.datetime.now(dt.UTC),
                    )
                )
        version = step.version
    return version
