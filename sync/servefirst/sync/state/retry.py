"""The retry set and the date-sensitive set: engagements a later run must pull again by id.

A record the CRM refuses must not hold the watermark back (one bad record would otherwise
make every later run re-read everything since), nor be forgotten once the watermark moves on.
So the watermark advances and the record's id lands here; later runs ask the connector for
exactly these ids (``PullWindow.ids``), backing off exponentially, until the record syncs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from servefirst.sync.state import schema
from servefirst.sync.state.records import RetryEntry
from servefirst.sync.state.replace import CHUNK


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class RetryBackoff:
    """How soon a refused record is tried again, and when it counts as stuck.

    The first retry waits ``first``, each further one twice as long, never more than
    ``longest``. After ``stuck_after`` failed attempts the record is reported as stuck: it is
    still tried at the longest interval (and whenever the CRM shows it modified), but the
    report says that waiting alone will not fix it.
    """

    first: dt.timedelta = dt.timedelta(minutes=5)
    longest: dt.timedelta = dt.timedelta(hours=24)
    stuck_after: int = 5

    def delay(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failure (1-based)."""
        doubled: dt.timedelta = self.first * int(2 ** min(max(attempts - 1, 0), 32))
        return min(doubled, self.longest)


class RetrySetStore:
    """Retry-set and date-sensitive queries of ``StateStore`` (kept in their own module)."""

    engine: Engine

    def retry_due(self, connection: str, now: dt.datetime) -> list[str]:
        """Ids of the retry set whose next attempt has come, oldest first."""
        table = schema.retry_set
        query = (
            select(table.c.engagement_id)
            .where(table.c.connection == connection, table.c.next_attempt <= now)
            .order_by(table.c.first_seen, table.c.engagement_id)
        )
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]

    def retry_entries(
        self, connection: str, backoff: RetryBackoff | None = None
    ) -> list[RetryEntry]:
        """The whole retry set of a connection, stuck entries first."""
        stuck_after = (backoff or RetryBackoff()).stuck_after
        table = schema.retry_set
        query = select(table).where(table.c.connection == connection)
        with self.engine.connect() as conn:
            entries = [
                RetryEntry(
                    engagement_id=row["engagement_id"],
                    reason=row["reason"],
                    attempts=row["attempts"],
                    first_seen=_utc(row["first_seen"]),
                    last_seen=_utc(row["last_seen"]),
                    next_attempt=_utc(row["next_attempt"]),
                    stuck=row["attempts"] >= stuck_after,
                )
                for row in conn.execute(query).mappings()
            ]
        return sorted(entries, key=lambda e: (not e.stuck, e.first_seen, e.engagement_id))

    def settle_retry_set(
        self,
        connection: str,
        *,
        failed: Mapping[str, str],
        resolved: Collection[str] | None,
        now: dt.datetime,
        backoff: RetryBackoff | None = None,
    ) -> None:
        """Record a run's outcome: ``failed`` ids (with reasons) in, ``resolved`` ids out.

        ``resolved`` ``None`` means the run saw every record (a full scan): every entry not
        in ``failed`` leaves the set. One transaction, so a crash leaves the previous set.
        """
        policy = backoff or RetryBackoff()
        table = schema.retry_set
        with self.engine.begin() as conn:
            if resolved is None:
                gone = [
                    str(i)
                    for i in conn.execute(
                        select(table.c.engagement_id).where(table.c.connection == connection)
                    ).scalars()
                    if i not in failed
                ]
            else:
                gone = [i for i in resolved if i not in failed]
            for chunk in _chunks(gone):
                conn.execute(
                    delete(table).where(
                        table.c.connection == connection, table.c.engagement_id.in_(chunk)
                    )
                )
            known: dict[str, int] = {}
            for chunk in _chunks(list(failed)):
                rows = conn.execute(
                    select(table.c.engagement_id, table.c.attempts).where(
                        table.c.connection == connection, table.c.engagement_id.in_(chunk)
                    )
                ).all()
                known.update({str(r.engagement_id): int(r.attempts) for r in rows})
            for engagement_id, reason in failed.items():
                attempts = known.get(engagement_id, 0) + 1
                values = {
                    "reason": reason,
                    "attempts": attempts,
                    "last_seen": now,
                    "next_attempt": now + policy.delay(attempts),
                }
                if engagement_id in known:
                    conn.execute(
                        update(table)
                        .where(
                            table.c.connection == connection,
                            table.c.engagement_id == engagement_id,
                        )
                        .values(**values)
                    )
                else:
                    conn.execute(
                        insert(table).values(
                            connection=connection,
                            engagement_id=engagement_id,
                            first_seen=now,
                            **values,
                        )
                    )

    def date_sensitive_ids(self, connection: str) -> list[str]:
        """Engagements whose written values change with the date itself."""
        table = schema.date_sensitive
        query = (
            select(table.c.engagement_id)
            .where(table.c.connection == connection)
            .order_by(table.c.engagement_id)
        )
        with self.engine.connect() as conn:
            return [str(r) for r in conn.execute(query).scalars()]

    def set_date_sensitive(
        self, connection: str, *, add: Iterable[str], remove: Iterable[str]
    ) -> None:
        """Add and remove engagements of the date-sensitive set, in one transaction."""
        table = schema.date_sensitive
        adding = list(dict.fromkeys(add))
        removing = [i for i in dict.fromkeys(remove) if i not in set(adding)]
        if not adding and not removing:
            return
        with self.engine.begin() as conn:
            for chunk in _chunks(adding + removing):
                conn.execute(
                    delete(table).where(
                        table.c.connection == connection, table.c.engagement_id.in_(chunk)
                    )
                )
            if adding:
                conn.execute(
                    insert(table), [{"connection": connection, "engagement_id": i} for i in adding]
                )


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
