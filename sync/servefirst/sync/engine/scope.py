"""What one run covers, and what it leaves for the next: the window, the fingerprint, the sets.

An incremental run must leave the CRM exactly as a full scan on that day would. It pulls the
records modified since the watermark, those whose key dates the calendar moved past, and by id
two kinds the stamps alone cannot find: records an earlier run could not write (the retry set)
and records whose written text depends on the date itself (the date-sensitive set). Anything
that changes findings of records nobody touched (the playbook, the field mapping) changes the
fingerprint, and a changed fingerprint forces a full scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from servefirst.connectors.base import PullWindow
from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import key_date_ranges
from servefirst.sync.state.records import Watermark
from servefirst.sync.state.retry import RetryBackoff
from servefirst.sync.state.store import StateStore


def fingerprint(playbook: Playbook, mapping_digest: str = "") -> str:
    """A digest of everything that can change a finding without touching a record.

    ``mapping_digest`` stands for the connection's field mapping (stage map, field names,
    sponsor role or label, pipeline), which the caller digests; empty, the digest is the
    playbook's alone, as state written before the mapping was fingerprinted holds.
    """
    digest = hashlib.sha256(playbook.model_dump_json().encode()).hexdigest()
    if not mapping_digest:
        return digest
    return hashlib.sha256(f"{digest}:{mapping_digest}".encode()).hexdigest()


@dataclass(frozen=True)
class Scope:
    """The window a run pulls, and which of its ids came from the retry and date sets."""

    window: PullWindow
    full: bool
    retry_ids: tuple[str, ...] = ()
    dated_ids: tuple[str, ...] = ()


def incremental(
    store: StateStore,
    connection: str,
    playbook: Playbook,
    mark: Watermark,
    as_of: dt.date,
    now: dt.datetime,
) -> Scope:
    """The window of an incremental run from ``mark``: stamps, date crossings and ids."""
    retry = tuple(store.retry_due(connection, now))
    dated = tuple(store.date_sensitive_ids(connection)) if as_of != mark.as_of else ()
    ids = tuple(dict.fromkeys((*retry, *dated)))
    window = PullWindow(
        modified_since=mark.modified_since,
        date_ranges=key_date_ranges(playbook, mark.as_of, as_of),
        ids=ids,
    )
    return Scope(window=window, full=False, retry_ids=retry, dated_ids=dated)


def settle(
    store: StateStore,
    connection: str,
    scope: Scope,
    *,
    seen: Iterable[str],
    failed: Mapping[str, str],
    now: dt.datetime,
    backoff: RetryBackoff,
) -> None:
    """After a completed run: refused ids into the retry set, synced and vanished ids out.

    A full scan saw every record, so whatever it did not refuse leaves the retry set; an
    incremental run clears what it pulled and what it asked for by id but did not get back
    (deleted, or moved out of what servefirst syncs). The date-sensitive set loses ids the
    same way; the batches add and remove the ones they evaluate.
    """
    pulled = set(seen)
    resolved = None if scope.full else pulled | set(scope.retry_ids)
    store.settle_retry_set(
        connection,
        failed={i: m for i, m in failed.items() if i},
        resolved=resolved,
        now=now,
        backoff=backoff,
    )
    asked = store.date_sensitive_ids(connection) if scope.full else scope.dated_ids
    store.set_date_sensitive(connection, add=(), remove=[i for i in asked if i not in pulled])
