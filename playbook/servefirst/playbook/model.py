"""The neutral engagement model: what a CRM record means to the playbook, whatever the CRM.

Connectors map their records onto these models and back; rules read only these. Keeping CRM
names out of here is what lets one rule engine and one contract test suite serve every CRM.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    """Whether an engagement is still being worked, or how it ended."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Severity(StrEnum):
    """How bad a finding is: any error puts an engagement off track, a warning at risk."""

    ERROR = "error"
    WARNING = "warning"


class Health(StrEnum):
    """The one-word verdict a rep sees on every engagement."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class Action(StrEnum):
    """What servefirst does about a finding in the CRM."""

    FLAG = "flag"
    TASK = "task"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sponsor(_Frozen):
    """A person whose working life the engagement is meant to improve."""

    contact_id: str
    name: str = ""
    email: str | None = None
    title: str | None = None
    role: str | None = None


class SuccessCriterion(_Frozen):
    """One measurable statement of what 'improved' means to the sponsor."""

    text: str
    met: bool = False


class PluginFields(_Frozen):
    """The plugin-owned values of an engagement: what the CRM holds now, or what it should hold.

    ``None`` means empty in the CRM (or, in a desired value, leave it alone).
    """

    health: Health | None = None
    findings: str | None = None
    slips: int | None = None
    #: The engagement's project timetable as short text a rep can paste into a mail.
    timetable: str | None = None


class TaskRef(_Frozen):
    """An open playbook task found in the CRM, identified by its deterministic key."""

    key: str
    rule: str
    task_id: str
    #: What the open task says now, so a changed playbook wording can be written in place.
    subject: str | None = None
    description: str | None = None


class Engagement(_Frozen):
    """A deal seen as a serve-first project.

    ``stage`` is a playbook stage key, or ``None`` when the CRM's stage (kept in ``raw_stage``)
    maps to no playbook stage. ``status`` comes from the CRM's own closed/won flags so that an
    unmapped stage still tells open from closed. ``current`` and ``open_tasks`` are what the CRM
    holds now; the engine diffs against them so that it writes only what differs.
    """

    id: str
    crm: str
    name: str
    account: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    stage: str | None = None
    raw_stage: str = ""
    status: Status = Status.OPEN
    amount: float | None = None
    po_date: dt.date | None = None
    operational_date: dt.date | None = None
    success_criteria: tuple[SuccessCriterion, ...] = ()
    success_confirmed: bool = False
    sponsors: tuple[Sponsor, ...] = ()
    last_modified: dt.datetime | None = None
    current: PluginFields = Field(default_factory=PluginFields)
    open_tasks: tuple[TaskRef, ...] = ()
    #: Playbook tasks a rep completed while the engagement still had findings: candidates to
    #: reopen when the finding persists (no quiet dismissal).
    completed_tasks: tuple[TaskRef, ...] = ()
    #: The manager-owned waiver field as the CRM holds it (parsed by the playbook, not here).
    waiver_text: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


class Finding(_Frozen):
    """One way an engagement departs from the playbook, written for the rep who owns it.

    ``group`` is the task group the rule shares a task with. A date finding carries the dates
    the timetable recommends (``None``: keep that date); setting both clears every date finding.
    """

    engagement_id: str
    rule: str
    severity: Severity
    action: Action
    message: str
    fix: str
    group: str | None = None
    recommended_po_date: dt.date | None = None
    recommended_operational_date: dt.date | None = None


class WaivedFinding(_Frozen):
    """A finding a manager waived until ``until``: shown as waived, opening no task."""

    finding: Finding
    until: dt.date
    reason: str


class DesiredTask(_Frozen):
    """A task the playbook wants open on an engagement: one per engagement and rule, or per
    engagement and task group (``rule`` is then the group's key, ``rules`` its findings' rules).

    ``severity`` is the worst of its findings' (errors make a High-priority task).
    """

    key: str
    rule: str
    subject: str
    description: str
    due: dt.date
    owner_id: str | None = None
    severity: Severity = Severity.WARNING
    rules: tuple[str, ...] = ()


class Assessment(_Frozen):
    """Everything the playbook concludes about one engagement on one date.

    ``desired`` is ``None`` for engagements the playbook leaves alone (closed lost): their
    plugin-owned fields are not rewritten, and any open playbook task is closed. ``findings``
    are the findings in force (they set health and open tasks); ``waived`` are those a manager
    waived, shown as waived in the findings text and listed in run summaries;
    ``waiver_problems`` are plain sentences about waiver lines that could not be used.
    """

    engagement_id: str
    as_of: dt.date
    health: Health | None
    findings: tuple[Finding, ...]
    desired: PluginFields | None
    tasks: tuple[DesiredTask, ...]
    autofill_operational_date: dt.date | None = None
    waived: tuple[WaivedFinding, ...] = ()
    waiver_problems: tuple[str, ...] = ()
    #: The values written to the CRM (findings text, timetable, task text) depend on ``as_of``
    #: beyond the threshold crossings ``key_date_ranges`` predicts: the engine re-pulls such
    #: engagements by id whenever the date moves, so an incremental run still equals a full one.
    date_sensitive: bool = False


def task_key(engagement_id: str, rule: str) -> str:
    """The deterministic key of the one task a rule may hold open on an engagement.

    Every write of a playbook task is an upsert on this key, so a replay after a crash finds the
    task it already created instead of creating a second one.
    """
    return f"servefirst:{engagement_id}:{rule}"


class DateRange(_Frozen):
    """Engagements whose ``field`` (``po_date`` or ``operational_date``) is in [start, end).

    Used to pull the engagements whose findings change only because the calendar moved.
    """

    field: str
    start: dt.date
    end: dt.date
