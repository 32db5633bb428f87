"""How a run is asked to go: the options every trigger (CLI, scheduler, service) fills in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from servefirst.connectors.base import UnmappableRecord
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Assessment, Engagement
from servefirst.sync.state.records import RunTotals
from servefirst.sync.state.retry import RetryBackoff

#: Engagements per batch. Each batch's plan is applied on its own, so a batch's writes end in a
#: part-filled collection; a multiple of the CRMs' write batches (Salesforce 200, HubSpot 100)
#: and of Salesforce's query page (2000) keeps that remainder to one call per kind of write per
#: batch. At 500, 417 updates and 230 task upserts cost 3 + 2 collections where 2.1 + 1.2 would
#: do: a full Salesforce sync of 10,000 engagements made 99 write calls for a minimum of 65.
DEFAULT_BATCH_SIZE = 2000


class Evaluate(Protocol):
    def __call__(
        self, engagement: Engagement, playbook: Playbook, as_of: dt.date, *, slips: int
    ) -> Assessment: ...


@dataclass(frozen=True)
class SyncOptions:
    """How to run: on which date, for real or not, how much to pull, where to put the plan."""

    as_of: dt.date
    dry_run: bool = False
    full: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    diff_file: Path | None = None
    #: Force a full scan when the last one is older than this (``None``: never on age alone).
    full_scan_every: dt.timedelta | None = None
    #: Keep a summary of every evaluated engagement for the report (``--json`` lists them); a
    #: scheduler on a large org turns it off.
    keep_engagements: bool = True
    #: A digest of the connection's field mapping: when it changes, findings of untouched
    #: records may change, so the next run is a full scan (see ``scope.fingerprint``).
    mapping_digest: str = ""
    #: When refused records are tried again, and when they count as stuck.
    retry: RetryBackoff = field(default_factory=RetryBackoff)
    #: How far the CRM's clock may be from this machine's before a warning: the incremental
    #: overlap, beyond which a skewed clock could lose edits.
    skew_tolerance: dt.timedelta = dt.timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"batch_size must be between 1 and 10000, not {self.batch_size}")


ProgressCallback = Callable[[RunTotals], None]


#: What a pull yields: an engagement, or a record the connector could not map (a record error).
Pulled = Engagement | UnmappableRecord
