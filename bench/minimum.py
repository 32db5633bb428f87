"""The theoretical minimum of API calls for one sync, per CRM: what ratios are measured against.

The minimum is what *any* correct sync needs to read the engagements that matter and to write
what changed, with each CRM's largest pages and batches, and nothing else:

Salesforce (REST, one SOQL query with child subqueries returns a whole engagement):
    read  = ceil(R / 2000) query pages, at least 1 (an empty answer is still a call),
            plus 2 for an incremental sync: the contact-role query and the query of playbook
            tasks completed since the watermark (editing a contact role or completing a task
            leaves the opportunity's SystemModstamp alone, so each must be asked separately);
    write = ceil(updates / 200) + ceil(task upserts / 200) + ceil(task closes / 200)
            (sObject collections of 200).

HubSpot (CRM v3 search, v4 associations, v3 batch reads of 100):
    read  = 1 pipeline read per run (stage ids to stage names)
            + per search page of up to 200 deals: 1 search
              + 3 association batch reads (deal->contacts, deal->companies, deal->tasks)
              + ceil(sponsor contacts / 100) + ceil(companies / 100) + ceil(tasks / 100)
                contact, company and task batch reads (only the non-empty ones)
            + ceil(owners / 100) owner pages once any deal was read
            + 1 search of playbook tasks completed since the watermark for an incremental
              sync (completing a task leaves its deal alone);
            an incremental sync that finds nothing: 2 searches + 1 pipeline read = 3;
    write = ceil(updates / 100) + ceil(task creates / 100) + ceil(task closes / 100).

R is the number of engagements the sync *must* read: all of them for a full sync, and for an
incremental sync only those someone else changed since the last run.

The sync right after a writing one also finds that run's own writes W again: they were
modified after its watermark, and only reading them tells they were not changed by anyone else
since. The *re-read minimum* counts the query or search pages that listing them takes, and
nothing around them (HubSpot: no association or batch read, as their ``updatedAt`` is the one
the write returned):
    Salesforce: ceil(W / 2000) query pages;  HubSpot: ceil(W / 200) search pages,
in place of the one empty page an incremental sync that finds nothing reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

SF_QUERY_PAGE = 2000
SF_COLLECTION = 200
HS_SEARCH_PAGE = 200
HS_BATCH = 100
HS_ASSOCIATION_TYPES = 3


@dataclass(frozen=True)
class Minimum:
    """The fewest read and write calls a sync needs."""

    read: int
    write: int

    @property
    def total(self) -> int:
        return self.read + self.write


@dataclass(frozen=True)
class WriteCounts:
    """What a sync had to write, as the engine's report counts it."""

    updates: int = 0
    task_opens: int = 0
    task_closes: int = 0


@dataclass(frozen=True)
class DealPage:
    """What surrounds one search page of deals in HubSpot (read from the sandbox's store)."""

    deals: int
    sponsors: int
    companies: int
    tasks: int


def _batches(count: int, size: int) -> int:
    return ceil(count / size) if count > 0 else 0


def salesforce(records: int, writes: WriteCounts, *, incremental: bool, reread: int = 0) -> Minimum:
    """Salesforce's minimum for reading ``records`` engagements and writing ``writes``.

    ``reread``: records the previous sync wrote, which this one lists again.
    """
    read = max(1, _batches(records + reread, SF_QUERY_PAGE)) + (2 if incremental else 0)
    write = sum(
        _batches(n, SF_COLLECTION) for n in (writes.updates, writes.task_opens, writes.task_closes)
    )
    return Minimum(read, write)


def hubspot(
    pages: Sequence[DealPage],
    writes: WriteCounts,
    *,
    owners: int,
    incremental: bool = False,
    reread: int = 0,
) -> Minimum:
    """HubSpot's minimum for reading these search pages of deals and writing ``writes``.

    ``reread``: deals the previous sync wrote, which this one lists again (searches only).
    """
    read = 1 + (1 if incremental else 0)  # the pipeline, the completed tasks
    read += reread_pages(reread)
    if not pages and not reread:
        read += 1  # one search, answered empty
    for page in pages:
        read += 1 + HS_ASSOCIATION_TYPES
        read += sum(_batches(n, HS_BATCH) for n in (page.sponsors, page.companies, page.tasks))
    if pages:
        read += max(1, _batches(owners, HS_BATCH))
    write = sum(
        _batches(n, HS_BATCH) for n in (writes.updates, writes.task_opens, writes.task_closes)
    )
    return Minimum(read, write)


def reread_pages(reread: int) -> int:
    """HubSpot search pages that list ``reread`` records again."""
    return _batches(reread, HS_SEARCH_PAGE)


#: HubSpot Professional: calls per rolling window, the window, and searches per second.
HS_WINDOW_CALLS = 190
HS_WINDOW_SECONDS = 10.0
HS_SEARCHES_PER_SECOND = 5


def hubspot_floor_seconds(minimum: Minimum, search_pages: int) -> float:
    """The least wall time Professional-tier limits impose on the minimum's calls.

    Both limits are rolling windows: no 10 s span may hold more than 190 calls, and no 1 s span
    more than 5 searches. The fastest schedule sends each window's worth at once, so call
    ``n`` (0-based) cannot go before ``10 * (n // 190)`` s, and search ``n`` before
    ``n // 5`` s: the floor is the later of the last call's and the last search's earliest
    time. (A rate of 19 calls a second after a free first burst, ``(calls - 190) / 19``, is
    no bound: a rolling window never allows it for longer than one window.)
    """
    calls = HS_WINDOW_SECONDS * ((minimum.total - 1) // HS_WINDOW_CALLS) if minimum.total else 0
    searches = float((search_pages - 1) // HS_SEARCHES_PER_SECOND) if search_pages else 0.0
    return max(calls, searches)
