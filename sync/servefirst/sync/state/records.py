"""Plain records the state store reads and writes, shared with the engine's report.

They are dataclasses rather than ORM objects so that the engine, the CLI and the tests handle
ordinary values that outlive any database session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class RunStatus(StrEnum):
    """How a run ended (or that it has not yet: ``running``)."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # finished; some records were refused by the CRM
    FAILED = "failed"  # stopped (auth, budget, CRM unreachable, bad config)
    DRY_RUN = "dry_run"
    INTERRUPTED = "interrupted"  # the process died while running; found by a later start
    DEAD_LETTER = "dead_letter"  # a worker gave up on the message after its last retry


#: The count names of issue 5's JSON summary, in its order.
COUNT_NAMES = (
    "engagements_read",
    "records_updated",
    "fields_updated",
    "tasks_opened",
    "tasks_closed",
    "tasks_updated",
    "tasks_reopened",
    "conflicts_skipped",
    "record_errors",
)
HEALTH_NAMES = ("on_track", "at_risk", "off_track")
#: Every whole-number total, each a column of the ``runs`` row (findings_by_rule is JSON).
TOTAL_NAMES = (*COUNT_NAMES, *HEALTH_NAMES, "api_calls_read", "api_calls_write")


@dataclass
class RunTotals:
    """What a run did, in numbers: kept in the ``runs`` row and printed in summaries."""

    engagements_read: int = 0
    records_updated: int = 0
    fields_updated: int = 0
    tasks_opened: int = 0
    tasks_closed: int = 0
    tasks_updated: int = 0
    tasks_reopened: int = 0
    conflicts_skipped: int = 0
    record_errors: int = 0
    on_track: int = 0
    at_risk: int = 0
    off_track: int = 0
    api_calls_read: int = 0
    api_calls_write: int = 0
    findings_by_rule: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in COUNT_NAMES}

    def health(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in HEALTH_NAMES}


@dataclass(frozen=True)
class Watermark:
    """Where the next incremental run of a connection starts."""

    connection: str
    modified_since: dt.datetime
    as_of: dt.date
    run_id: int | None
    playbook_digest: str = ""


@dataclass(frozen=True)
class EngagementDates:
    """The last Operational Date seen for an engagement and how often it has slipped."""

    engagement_id: str
    last_operational_date: dt.date | None
    slips: int
    first_seen: dt.datetime


@dataclass(frozen=True)
class RunRecord:
    """One row of run history."""

    id: int
    connection: str
    crm: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    as_of: dt.date
    status: RunStatus
    dry_run: bool
    full_scan: bool
    totals: RunTotals
    duration_seconds: float | None
    error_message: str | None
    host: str
    pid: int
    kind: str = "sync"
    reverts_run_id: int | None = None


@dataclass(frozen=True)
class ChangeRecord:
    """One planned or applied write, with what the CRM held before and what was written."""

    record_id: str
    kind: str  # "field" | "task_open" | "task_reopen" | "task_close" | "task_update"
    name: str  # the neutral field name, or the rule of the task
    before: object = None
    after: object = None
    task_key: str | None = None
    ok: bool | None = None
    message: str = ""
    #: The engagement's name when the change was planned (``None`` in history older than names).
    engagement_name: str | None = None
    #: An opened task's text (subject, description, due, owner), so a revert can reopen it.
    detail: dict[str, object] | None = None


class RunKind(StrEnum):
    """What a run did: a sync, or the revert of an earlier run."""

    SYNC = "sync"
    REVERT = "revert"


@dataclass(frozen=True)
class FindingSnapshot:
    """One finding as a snapshot keeps it: the rule, how bad, and the rep's words."""

    rule: str
    severity: str
    message: str


@dataclass(frozen=True)
class EngagementSnapshot:
    """An engagement as the latest real run evaluated it: what reports are made of.

    Everything a report shows is here, so that a report never asks the CRM anything.
    """

    engagement_id: str
    name: str
    status: str  # "open" | "won" | "lost"
    stage: str | None
    stage_label: str
    stage_rank: int
    health: str | None
    findings: tuple[FindingSnapshot, ...] = ()
    slips: int = 0
    account: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    amount: float | None = None
    po_date: dt.date | None = None
    operational_date: dt.date | None = None
    timetable: str | None = None
    waiver: str | None = None
    url: str | None = None
    run_id: int = 0
    as_of: dt.date | None = None
    connection: str = ""

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(f.rule for f in self.findings)


@dataclass(frozen=True)
class PipelinePoint:
    """The whole pipeline's health after one run: a point of the report's trend charts."""

    run_id: int
    connection: str
    as_of: dt.date
    engagements: int
    on_track: int
    at_risk: int
    off_track: int
    findings_by_rule: dict[str, int]


@dataclass(frozen=True)
class RetryEntry:
    """An engagement the CRM refused (or that could not be read), re-pulled by id until it syncs.

    ``stuck`` entries have failed so often that only a change in the CRM (an admin fixing the
    validation rule, a rep fixing the record) will clear them; they stay listed until then.
    """

    engagement_id: str
    reason: str
    attempts: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    next_attempt: dt.datetime
    stuck: bool = False


@dataclass(frozen=True)
class Lease:
    """Who runs a connection right now: one holder at a time, across processes and hosts."""

    connection: str
    holder: str
    host: str
    pid: int
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime
    run_id: int | None = None
