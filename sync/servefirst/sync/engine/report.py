"""What one sync run reports: the readable summary's and ``--json``'s single source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from servefirst.playbook.errors import BudgetExhaustedError, ConfigError, ServeFirstError
from servefirst.playbook.model import Assessment, Engagement
from servefirst.sync.engine.outcome import RecordProblem
from servefirst.sync.state.records import RetryEntry, RunStatus, RunTotals


class FailureKind(StrEnum):
    """Why a run failed, which decides the exit code (config 2, anything else 3)."""

    CONFIG = "config"
    FATAL = "fatal"  # auth, CRM unreachable after retries
    BUDGET = "budget"  # the daily API budget (or servefirst's share of it) is spent
    UNEXPECTED = "unexpected"  # a bug: logged with its traceback


def failure_kind(exc: BaseException) -> FailureKind:
    """Which kind of failure an exception is, by class only (never by message)."""
    if isinstance(exc, ConfigError):
        return FailureKind.CONFIG
    if isinstance(exc, BudgetExhaustedError):
        return FailureKind.BUDGET
    if isinstance(exc, ServeFirstError):
        return FailureKind.FATAL
    return FailureKind.UNEXPECTED


@dataclass(frozen=True)
class FindingSummary:
    rule: str
    severity: str
    message: str


@dataclass(frozen=True)
class WaivedSummary:
    """A finding a manager waived: which, until when and why."""

    rule: str
    message: str
    until: dt.date
    reason: str


@dataclass(frozen=True)
class EngagementSummary:
    """One evaluated engagement as the JSON report lists it."""

    id: str
    name: str
    stage: str | None
    health: str | None
    findings: tuple[FindingSummary, ...]
    waived: tuple[WaivedSummary, ...] = ()

    @classmethod
    def of(cls, engagement: Engagement, assessment: Assessment) -> EngagementSummary:
        return cls(
            id=engagement.id,
            name=engagement.name,
            stage=engagement.stage if engagement.stage is not None else engagement.raw_stage,
            health=None if assessment.health is None else assessment.health.value,
            findings=tuple(
                FindingSummary(f.rule, f.severity.value, f.message) for f in assessment.findings
            ),
            waived=tuple(
                WaivedSummary(w.finding.rule, w.finding.message, w.until, w.reason)
                for w in assessment.waived
            ),
        )


@dataclass
class RunReport:
    """Everything a caller needs to know about a finished run."""

    run_id: int
    connection: str
    crm: str
    dry_run: bool
    full_scan: bool
    as_of: dt.date
    status: RunStatus = RunStatus.RUNNING
    totals: RunTotals = field(default_factory=RunTotals)
    engagements: list[EngagementSummary] = field(default_factory=list)
    errors: list[RecordProblem] = field(default_factory=list)
    duration_seconds: float = 0.0
    error_message: str | None = None
    failure: FailureKind | None = None
    #: The connection's retry set after this run: records still to sync, stuck ones first.
    retry: list[RetryEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The one JSON document ``servefirst sync --json`` prints (issue 5's keys, and each
        engagement's waived findings)."""
        calls = {
            "total": self.totals.api_calls_read + self.totals.api_calls_write,
            "read": self.totals.api_calls_read,
            "write": self.totals.api_calls_write,
        }
        return {
            "run_id": self.run_id,
            "connection": self.connection,
            "crm": self.crm,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat(),
            "status": self.status.value,
            "counts": self.totals.counts(),
            "health": self.totals.health(),
            "api_calls": calls,
            "engagements": [
                {
                    "id": e.id,
                    "name": e.name,
                    "stage": e.stage,
                    "health": e.health,
                    "findings": [
                        {"rule": f.rule, "severity": f.severity, "message": f.message}
                        for f in e.findings
                    ],
                    "waived": [
                        {
                            "rule": w.rule,
                            "message": w.message,
                            "until": w.until.isoformat(),
                            "reason": w.reason,
                        }
                        for w in e.waived
                    ],
                }
                for e in self.engagements
            ],
            "errors": self._errors(),
            "retry_set": [retry_json(entry) for entry in self.retry],
        }

    def _errors(self) -> list[dict[str, str | None]]:
        # A failed run's own error is listed with no record id, so that `--json` consumers
        # find every problem in one place and the document keeps issue 5's keys.
        rows: list[dict[str, str | None]] = [
            {"record_id": p.record_id, "message": p.message} for p in self.errors
        ]
        if self.error_message:
            rows.append({"record_id": None, "message": self.error_message})
        return rows


def retry_json(entry: RetryEntry) -> dict[str, object]:
    """One retry-set entry as ``sync --json`` and ``runs show --json`` list it."""
    return {
        "record_id": entry.engagement_id,
        "message": entry.reason,
        "attempts": entry.attempts,
        "stuck": entry.stuck,
        "first_seen": entry.first_seen.isoformat(),
        "last_seen": entry.last_seen.isoformat(),
        "next_attempt": entry.next_attempt.isoformat(),
    }
