"""Run leases: at most one run per connection at a time, across processes and hosts.

A lease is one row per connection in the state database, so every trigger sharing that database
(the CLI, the scheduler, workers on other hosts with PostgreSQL) sees it. The holder renews it
with heartbeats; a holder that dies stops renewing, and once ``expires_at`` passes the next
trigger takes the lease over and marks the dead holder's run ``interrupted``. On the holder's
own host a dead process is recognised at once by its pid, without waiting for the expiry.

Acquiring is one transaction that reads the row under a lock (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and writes it, so two triggers racing for a free
connection cannot both win; a racing insert on PostgreSQL loses on the primary key and re-reads.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import replace

from sqlalchemy import Connection, Engine, RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from servefirst.playbook.errors import FatalSyncError
from servefirst.sync.state import schema
from servefirst.sync.state.records import Lease, RunStatus

TAKEN_OVER = "the process running this sync stopped before it finished (its lease was taken over)"


class LeaseHeldError(FatalSyncError):
    """Another live holder runs this connection; ``lease`` says who and since when."""

    def __init__(self, lease: Lease) -> None:
        since = lease.acquired_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(
            f"connection {lease.connection} is already being synced by process {lease.pid} "
            f"on {lease.host} since {since}"
        )
        self.lease = lease


class LeaseLostError(FatalSyncError):
    """The lease expired and someone else took it over while this holder still ran."""


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _lease(row: RowMapping) -> Lease:
    return Lease(
        connection=row["connection"],
        holder=row["holder"],
        host=row["host"],
        pid=row["pid"],
        acquired_at=_utc(row["acquired_at"]),
        heartbeat_at=_utc(row["heartbeat_at"]),
        expires_at=_utc(row["expires_at"]),
        run_id=row["run_id"],
    )


def _clock(conn: Connection) -> dt.datetime:
    """Now, by the clock every holder shares: PostgreSQL's own for a shared database.

    Holders on several hosts compare each other's expiry times, so they must read one clock;
    a SQLite file is shared by one host only, whose clock it is.
    """
    if conn.dialect.name == "postgresql":
        return _utc(conn.execute(select(func.now())).scalar_one())
    return dt.datetime.now(dt.UTC)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead(lease: Lease, now: dt.datetime) -> bool:
    if lease.expires_at <= now:
        return True
    return lease.host == socket.gethostname() and not pid_alive(lease.pid)


class LeaseStore:
    """Lease queries of ``StateStore`` (kept in their own module)."""

    engine: Engine

    def get_lease(self, connection: str) -> Lease | None:
        """The current lease of ``connection``, live or expired, if any row exists."""
        table = schema.leases
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.connection == connection))
            found = row.mappings().first()
        return None if found is None else _lease(found)

    def acquire_lease(
        self,
        connection: str,
        *,
        ttl: dt.timedelta,
        holder: str | None = None,
        now: dt.datetime | None = None,
    ) -> Lease:
        """Take the lease of ``connection`` for ``ttl``, or raise ``LeaseHeldError``.

        A lease whose holder is dead (expired, or its process gone on this host) is taken
        over, and the run it was running is marked ``interrupted``. Times are the database's
        clock (see ``_clock``) unless ``now`` is given.
        """
        holder = holder or uuid.uuid4().hex
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    at = now or _clock(conn)
                    me = Lease(
                        connection=connection,
                        holder=holder,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        acquired_at=at,
                        heartbeat_at=at,
                        expires_at=at + ttl,
                    )
                    return self._acquire(conn, me)
            except IntegrityError:
                continue  # another process inserted the row first: read it again
        held = self.get_lease(connection)
        if held is None:  # pragma: no cover - three lost races in a row on a vanishing row
            raise LeaseLostError(f"could not take the lease of connection {connection}")
        raise LeaseHeldError(held)

    def _acquire(self, conn: Connection, me: Lease) -> Lease:
        table = schema.leases
        row = (
            conn.execute(select(table).where(table.c.connection == me.connection).with_for_update())
            .mappings()
            .first()
        )
        values = {
            "holder": me.holder,
            "host": me.host,
            "pid": me.pid,
            "acquired_at": me.acquired_at,
            "heartbeat_at": me.heartbeat_at,
            "expires_at": me.expires_at,
            "run_id": None,
        }
        if row is None:
            conn.execute(insert(table).values(connection=me.connection, **values))
            return me
        current = _lease(row)
        if current.holder != me.holder and not _dead(current, me.acquired_at):
            raise LeaseHeldError(current)
        if current.run_id is not None and current.holder != me.holder:
            runs = schema.runs
            conn.execute(
                update(runs)
                .where(runs.c.id == current.run_id, runs.c.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.INTERRUPTED.value, error_message=TAKEN_OVER)
            )
        conn.execute(update(table).where(table.c.connection == me.connection).values(**values))
        return me

    def heartbeat_lease(
        self, lease: Lease, *, ttl: dt.timedelta, now: dt.datetime | None = None
    ) -> Lease:
        """Renew a held lease; ``LeaseLostError`` when someone else holds it now."""
        table = schema.leases
        with self.engine.begin() as conn:
            at = now or _clock(conn)
            renewed = replace(lease, heartbeat_at=at, expires_at=at + ttl)
            done = conn.execute(
                update(table)
                .where(table.c.connection == lease.connection, table.c.holder == lease.holder)
                .values(heartbeat_at=renewed.heartbeat_at, expires_at=renewed.expires_at)
            )
        if done.rowcount == 0:
            raise LeaseLostError(
                f"connection {lease.connection}: this run's lease expired and was taken over"
            )
        return renewed

    def attach_run(self, lease: Lease, run_id: int) -> Lease:
        """Name the run a lease protects, so a takeover can mark it ``interrupted``."""
        table = schema.leases
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where(table.c.connection == lease.connection, table.c.holder == lease.holder)
                .values(run_id=run_id)
            )
        return replace(lease, run_id=run_id)

    def release_lease(self, lease: Lease) -> None:
        """Give the lease back (a no-op when it was already taken over)."""
        table = schema.leases
        with self.engine.begin() as conn:
            conn.execute(
                delete(table).where(
                    table.c.connection == lease.connection, table.c.holder == lease.holder
                )
            )
