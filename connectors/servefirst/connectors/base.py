"""The connector seam: what the sync engine asks of every CRM, in neutral terms.

A connector turns CRM records into neutral ``Engagement`` objects and neutral ``Change`` plans
back into the fewest CRM calls its batch APIs allow. It knows nothing of scheduling or state;
the engine (in ``servefirst.sync``) decides *what* to write, the connector only *how*.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from servefirst.playbook.definition import Playbook
from servefirst.playbook.errors import RecordError
from servefirst.playbook.model import DateRange, DesiredTask, Engagement, PluginFields

#: Neutral names of the fields a plan may write: plugin-owned fields, plus the one opt-in
#: autofill of a rep-owned field.
PLUGIN_FIELDS = ("health", "findings", "slips", "timetable")
AUTOFILL_FIELDS = ("operational_date",)
#: Task text is cut to what the smallest CRM holds (Salesforce: a 255-character Subject, a
#: 32,000-character Description), so every CRM stores, and reads back, the same words: a text
#: cut by the CRM would never compare equal to the playbook's and be rewritten on every run.
TASK_SUBJECT_MAX = 255
TASK_DESCRIPTION_MAX = 32_000


#: The default playbook's waiver approvers (``waivers.who_may_waive``), which seeded sandboxes
#: grant edit on the waiver field.
DEFAULT_APPROVERS = "Sales Manager"


def who_may_waive(playbook: Playbook) -> str:
    """The role whose holders may edit the waiver field, as the playbook names it."""
    return playbook.waivers.who_may_waive


@dataclass(frozen=True)
class PullWindow:
    """Which engagements a pull must return.

    ``modified_since`` ``None`` means a full scan. Otherwise the pull returns engagements
    modified since then (the connector subtracts its own overlap and de-duplicates) *or* whose
    key date falls in one of ``date_ranges``: their findings change with the calendar although
    nobody edited them. The connector ORs all of it into as few queries as the CRM allows.
    """

    modified_since: dt.datetime | None = None
    date_ranges: tuple[DateRange, ...] = ()
    #: Engagements to return by id whether or not they changed (the retry set, engagements
    #: whose written text depends on the date); ignored by a full scan, which returns them all.
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnmappableRecord:
    """A CRM record the connector could not turn into an ``Engagement``: a record error.

    A pull yields it in place of the engagement so that the engine reports it, counts the run
    ``partial`` and keeps the id in its retry set, instead of the record vanishing silently.
    """

    record_id: str
    reason: str


def mapped(pulled: Iterable[Engagement | UnmappableRecord]) -> list[Engagement]:
    """Every engagement of a pull, for callers that cannot go on past an unreadable record.

    The engine reports unmappable records and carries on; tools that need the whole set (a
    seeding script, a test) use this instead, and get a ``RecordError`` naming the record.
    """
    engagements = []
    for item in pulled:
        if isinstance(item, UnmappableRecord):
            raise RecordError(item.reason, record_id=item.record_id)
        engagements.append(item)
    return engagements


@dataclass(frozen=True)
class FieldChange:
    """Set one neutral field of one engagement. ``before`` is what the CRM held when pulled."""

    engagement_id: str
    field: str
    before: object
    after: object
    only_if_empty: bool = False  # autofill: re-checked at write time; a non-empty value wins


@dataclass(frozen=True)
class RecordUpdate:
    """All field changes of one engagement, written in one record update."""

    engagement_id: str
    changes: tuple[FieldChange, ...]

    def values(self) -> dict[str, object]:
        return {c.field: c.after for c in self.changes}


@dataclass(frozen=True)
class TaskOpen:
    """Open (create, or reopen) the one task a rule may hold on an engagement, keyed by its key.

    ``reopen_task_id`` names the completed task with this key when the pull found one (a rep
    marked it done while its problem persists): the connector puts that same task back to an
    open status instead of creating another, and may skip looking for it.
    """

    engagement_id: str
    task: DesiredTask
    reopen_task_id: str | None = None


@dataclass(frozen=True)
class TaskUpdate:
    """Rewrite an open playbook task's subject and body in place: the playbook's words changed.

    ``before_subject`` and ``before_description`` are what the CRM held when pulled (history).
    """

    engagement_id: str
    key: str
    rule: str
    task_id: str
    subject: str
    description: str
    before_subject: str | None = None
    before_description: str | None = None


@dataclass(frozen=True)
class TaskClose:
    """Complete a playbook task whose finding has disappeared."""

    engagement_id: str
    key: str
    rule: str
    task_id: str


@dataclass(frozen=True)
class Plan:
    """The minimal set of writes one sync run wants."""

    updates: tuple[RecordUpdate, ...] = ()
    task_opens: tuple[TaskOpen, ...] = ()
    task_closes: tuple[TaskClose, ...] = ()
    task_updates: tuple[TaskUpdate, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.updates or self.task_opens or self.task_closes or self.task_updates)


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write in a plan: ``ok`` or the CRM's own error message."""

    kind: str  # "update" | "task_open" | "task_close" | "task_update"
    engagement_id: str
    ok: bool
    crm_id: str | None = None
    message: str = ""
    skipped_conflict: bool = False  # an autofill found the field already filled


@dataclass
class ApplyResult:
    """Per-write results of applying a plan, in plan order."""

    results: list[WriteResult] = field(default_factory=list)

    @property
    def errors(self) -> list[WriteResult]:
        return [r for r in self.results if not r.ok and not r.skipped_conflict]


#: Why a task was not opened: another task of its engagement could not be closed first.
HELD_BACK = (
    "not opened: a task of this engagement could not be closed first (its problem may now be "
    "this task's); the next run tries again"
)


def held_back(plan: Plan, edits: list[WriteResult]) -> tuple[list[TaskOpen], list[WriteResult]]:
    """The opens to write after the closes, and results for those held back.

    A task whose key changed (rules now sharing one task) is closed under its old key and
    opened under the new one; if the close failed, opening would leave two open tasks for one
    problem, so every open of that engagement waits for the next run.
    """
    failed = {r.engagement_id for r in edits if r.kind == "task_close" and not r.ok}
    go = [o for o in plan.task_opens if o.engagement_id not in failed]
    wait = [
        WriteResult("task_open", o.engagement_id, False, message=HELD_BACK)
        for o in plan.task_opens
        if o.engagement_id in failed
    ]
    return go, wait


@dataclass
class ApiCalls:
    """API calls a connector made, by kind: the budget the benchmarks compare to the minimum."""

    read: int = 0
    write: int = 0
    auth: int = 0

    @property
    def total(self) -> int:
        return self.read + self.write


@dataclass(frozen=True)
class ProvisionStep:
    """One thing provisioning would do (or found already done) in the CRM."""

    kind: str  # e.g. "field", "permission", "validation_rule", "stage", "pipeline", "label"
    name: str
    action: str  # "create" | "update" | "none" | "manual"
    detail: str = ""


@dataclass(frozen=True)
class ProvisionReport:
    """The provisioning plan, and after apply what was done; ``manual`` steps need an admin."""

    steps: tuple[ProvisionStep, ...]
    applied: bool

    @property
    def changes(self) -> tuple[ProvisionStep, ...]:
        return tuple(s for s in self.steps if s.action in ("create", "update"))


class Connector(Protocol):
    """One CRM connection. Implementations: Salesforce and HubSpot."""

    crm: str

    def provision(self, playbook: Playbook, *, dry_run: bool) -> ProvisionReport:
        """Make the CRM ready for the playbook (fields, stages, labels); idempotent."""
        ...

    def pull(self, window: PullWindow) -> Iterator[Engagement | UnmappableRecord]:
        """Yield engagements page by page; never holds the whole org in memory.

        A record that cannot be mapped is yielded as an ``UnmappableRecord`` in its place.
        """
        ...

    def apply(self, plan: Plan) -> ApplyResult:
        """Write the plan with the CRM's batch APIs; per-record failures become results.

        Closes are written before opens: when a problem's task changes key (rules grouped
        under one task), a crash between the two leaves no task rather than two.
        """
        ...

    def record_url(self, engagement_id: str) -> str | None:
        """Where a person opens this engagement in the CRM (no request made), if known."""
        ...

    def server_time(self) -> dt.datetime:
        """The CRM's clock (UTC) as of the first response this connector instance received.

        Read from that response's ``Date`` header (or a server timestamp); the engine asks
        after the pull has made its first request and uses it as the next watermark.
        """
        ...

    @property
    def api_calls(self) -> ApiCalls:
        """Calls made so far by this connector instance."""
        ...

    def close(self) -> None:
        """Release HTTP pools."""
        ...


@runtime_checkable
class RemembersStamps(Protocol):
    """A connector that skips re-reading records still carrying the stamp it last saw.

    The engine hands it the stamps remembered from earlier runs before the pull, and keeps
    what it saw or wrote after each batch is applied (never in a dry run, never for a batch
    whose apply failed), so a skipped record is always one whose evaluation and writes are
    already done. Only incremental pulls skip: a full scan reads everything.
    """

    def recall_stamps(self, stamps: Mapping[str, str]) -> None:
        """Stamps of earlier runs, by record id."""
        ...

    def take_stamps(self, record_ids: Iterable[str]) -> dict[str, str]:
        """The stamps these records carry after this run read (and maybe wrote) them.

        The engine asks for the records of a batch once it is applied: a record pulled
        ahead into the next batch is not yet done, and must not be skipped next time.
        """
        ...


__all__ = [
    "AUTOFILL_FIELDS",
    "PLUGIN_FIELDS",
    "TASK_DESCRIPTION_MAX",
    "TASK_SUBJECT_MAX",
    "ApiCalls",
    "ApplyResult",
    "Connector",
    "DateRange",
    "FieldChange",
    "Plan",
    "PluginFields",
    "ProvisionReport",
    "ProvisionStep",
    "PullWindow",
    "RecordUpdate",
    "RemembersStamps",
    "TaskClose",
    "TaskOpen",
    "TaskUpdate",
    "UnmappableRecord",
    "WriteResult",
    "mapped",
]
