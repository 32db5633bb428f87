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
incremental sync only those someone else changed since the last run (the sync's own writes
do not count: re-reading them is overhead, and the table shows it as such).
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


def salesforce(records: int, writes: WriteCounts, *, incremental: bool) -> Minimum:
    """Salesforce's minimum for reading ``records`` engagements and writing ``writes``."""
    read = max(1, _batches(records, SF_QUERY_PAGE)) + (2 if incremental else 0)
    write = sum(
        _batches(n, SF_COLLECTION) for n in (writes.updates, writes.task_opens, writes.task_closes)
    )
    return Minimum(read, write)


def hubspot(
    pages: Sequence[DealPage], writes: WriteCounts, *, owners: int, incremental: bool = False
) -> Minimum:
    """HubSpot's minimum for reading these search pages of deals and writing ``writes``."""
    read = 1 + (1 if incremental else 0)  # the pipeline, the completed tasks
    if not pages:
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


#: HubSpot Professional: calls per rolling window, the window, and searches per second.
HS_WINDOW_CALLS = 190
HS_WINDOW_SECONDS = 10.0
HS_SEARCHES_PER_SECOND = 5


def hubspot_floor_seconds(minimum: Minimum, search_pages: int) -> float:
    """The least wall time Professional-tier limits impose on the minimum's calls.

    Both limits are rolling windows, so the first window's worth goes out at once: 190 calls
    (5 searches) cost no wait, and every further 190 calls (5 searches) need one more window.
    The floor is the later of the two: ``(calls - 190) / 19`` s and ``(searches - 5) / 5`` s.
    """
    calls = max(0, minimum.total - HS_WINDOW_CALLS) / (HS_WINDOW_CALLS / HS_WINDOW_SECONDS)
    searches = max(0, search_pages - HS_SEARCHES_PER_SECOND) / HS_SEARCHES_PER_SECOND
    return max(calls, searches)
