"""One sync run of one connection: pull, evaluate, diff, apply, record, batch by batch.

The engine holds at most one batch of engagements in memory: it streams the connector's pull,
and for each batch evaluates, plans, applies and commits that batch's history and key dates
before reading on. The watermark moves only once the whole run has applied cleanly, and it moves
to the CRM's clock as read *before* the pull, so anything edited while the run was going is read
again next time. Replaying a batch is harmless: field writes are recomputed from scratch and
task writes are upserts on a deterministic key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Protocol

from servefirst.connectors.base import Connector, Plan, PullWindow
from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate, key_date_ranges
from servefirst.playbook.model import Assessment, Engagement
from servefirst.sync.engine.outcome import (
    BatchOutcome,
    RecordProblem,
    add_outcome,
    applied_outcome,
    dry_run_outcome,
    unconfirmed_outcome,
)
from servefirst.sync.engine.plan import (
    EngagementPlan,
    merge,
    next_slips,
    plan_engagement,
    plan_lines,
)
from servefirst.sync.engine.report import (
    EngagementSummary,
    FailureKind,
    RunReport,
    failure_kind,
)
from servefirst.sync.engine.snapshot import snapshot_of
from servefirst.sync.logs import log_event
from servefirst.sync.state.records import (
    EngagementDates,
    EngagementSnapshot,
    RunStatus,
    RunTotals,
)
from servefirst.sync.state.store import StateStore

log = logging.getLogger("servefirst.sync.engine")

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

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"batch_size must be between 1 and 10000, not {self.batch_size}")


ProgressCallback = Callable[[RunTotals], None]


def playbook_digest(playbook: Playbook) -> str:
    """A fingerprint of everything in the playbook that can change a finding."""
    return hashlib.sha256(playbook.model_dump_json().encode()).hexdigest()


def _batches(items: Iterable[Engagement], size: int) -> Iterator[list[Engagement]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def start_report(
    store: StateStore,
    connection: str,
    crm: str,
    options: SyncOptions,
    run_id: int | None = None,
) -> RunReport:
    """The report of a run, opening its history row unless the caller already did.

    A run is recorded before anything can fail, so even a connector that never opens leaves a
    row saying why; the service and ``run_sync`` both start runs this way.
    """
    if run_id is None:
        run_id = store.start_run(
            connection, crm, options.as_of, dry_run=options.dry_run, full_scan=options.full
        )
    return RunReport(
        run_id=run_id,
        connection=connection,
        crm=crm,
        dry_run=options.dry_run,
        full_scan=options.full,
        as_of=options.as_of,
    )


def run_sync(
    connector: Connector,
    playbook: Playbook,
    store: StateStore,
    connection: str,
    options: SyncOptions,
    *,
    on_progress: ProgressCallback | None = None,
    evaluator: Evaluate = evaluate,
    run_id: int | None = None,
) -> RunReport:
    """Run one sync of ``connection`` and return its report; never raises for a failed run.

    A failure (config, auth, budget, CRM unreachable, or a bug) ends the run with status
    ``failed``, its message in the report and the history, and the watermark untouched.
    Per-record refusals end it ``partial``. ``run_id`` lets a caller that opened the run row
    itself (to record failures that happen before a connector exists) hand it over.
    """
    started = time.monotonic()
    report = start_report(store, connection, connector.crm, options, run_id)
    calls_before = connector.api_calls
    read0, write0 = calls_before.read, calls_before.write
    try:
        _Run(
            connector=connector,
            playbook=playbook,
            store=store,
            report=report,
            options=options,
            on_progress=on_progress,
            evaluate=evaluator,
        ).execute()
    except Exception as exc:
        mark_failed(report, exc)
    except BaseException:  # Ctrl-C or interpreter shutdown: record it, then let it propagate
        report.status = RunStatus.INTERRUPTED
        report.error_message = "interrupted before it finished"
        _finish(store, report, connector, read0=read0, write0=write0, started=started)
        raise
    _finish(store, report, connector, read0=read0, write0=write0, started=started)
    return report


def mark_failed(report: RunReport, exc: Exception) -> None:
    """Mark the run failed; a bug (not a ServeFirstError) is logged with its traceback.

    Shared with the service, which records a connector that failed to open the same way.
    """
    report.status = RunStatus.FAILED
    report.failure = failure_kind(exc)
    report.error_message = str(exc) or exc.__class__.__name__
    log_event(
        log,
        logging.ERROR,
        "sync_failed",
        connection=report.connection,
        run_id=report.run_id,
        error=report.error_message,
        kind=report.failure.value,
    )
    if report.failure is FailureKind.UNEXPECTED:
        log.exception("unexpected error in sync run %s", report.run_id)


def _finish(
    store: StateStore,
    report: RunReport,
    connector: Connector,
    *,
    read0: int,
    write0: int,
    started: float,
) -> None:
    calls = connector.api_calls
    report.totals.api_calls_read = calls.read - read0
    report.totals.api_calls_write = calls.write - write0
    report.duration_seconds = time.monotonic() - started
    store.finish_run(
        report.run_id,
        status=report.status,
        totals=report.totals,
        duration_seconds=report.duration_seconds,
        error_message=report.error_message,
        full_scan=report.full_scan,
    )
    log_event(
        log,
        logging.INFO,
        "sync_finished",
        connection=report.connection,
        run_id=report.run_id,
        status=report.status.value,
        **report.totals.counts(),
        api_read=report.totals.api_calls_read,
        api_write=report.totals.api_calls_write,
        seconds=round(report.duration_seconds, 3),
    )


@dataclass
class _Run:
    """The moving parts of one run (kept off ``run_sync`` so each step reads on its own)."""

    connector: Connector
    playbook: Playbook
    store: StateStore
    report: RunReport
    options: SyncOptions
    on_progress: ProgressCallback | None
    evaluate: Evaluate
    seen: set[str] = field(default_factory=set)

    @property
    def connection(self) -> str:
        return self.report.connection

    def window(self) -> PullWindow:
        """Full scan on request, on first run, or when the playbook changed since the last run.

        Otherwise the records changed since the watermark plus those whose key dates the
        calendar moved past. A changed playbook (a threshold, a message, a rule turned off)
        changes the findings of records nobody touched, so only a full scan is correct then.
        """
        mark = self.store.get_watermark(self.connection)
        changed = mark is not None and mark.playbook_digest != playbook_digest(self.playbook)
        if changed:
            log_event(log, logging.INFO, "playbook_changed", connection=self.connection)
        if self.options.full or mark is None or changed or self._full_scan_due():
            self.report.full_scan = True
            return PullWindow()
        ranges = key_date_ranges(self.playbook, mark.as_of, self.options.as_of)
        return PullWindow(modified_since=mark.modified_since, date_ranges=ranges)

    def _full_scan_due(self) -> bool:
        every = self.options.full_scan_every
        if every is None:
            return False
        last = self.store.last_full_scan(self.connection)
        due = last is None or dt.datetime.now(dt.UTC) - last >= every
        if due:
            log_event(log, logging.INFO, "periodic_full_scan", connection=self.connection)
        return due

    def execute(self) -> None:
        window = self.window()
        # Read the CRM's clock before pulling: the next run re-reads what changes from now on.
        pulled_from = self.connector.server_time()
        log_event(
            log,
            logging.INFO,
            "sync_started",
            connection=self.connection,
            run_id=self.report.run_id,
            as_of=self.options.as_of.isoformat(),
            full=self.report.full_scan,
            dry_run=self.options.dry_run,
            modified_since=window.modified_since,
            date_ranges=len(window.date_ranges),
        )
        with ExitStack() as stack:
            diff: IO[str] | None = None
            if self.options.diff_file is not None:
                diff = stack.enter_context(self.options.diff_file.open("w", encoding="utf-8"))
            pull = self.connector.pull(window)
            for number, batch in enumerate(_batches(pull, self.options.batch_size), start=1):
                self.batch(number, batch, diff)
        if self.options.dry_run:
            self.report.status = RunStatus.DRY_RUN
            return
        self.report.status = RunStatus.PARTIAL if self.report.errors else RunStatus.OK
        self.store.snapshots.close_run(
            self.connection, self.report.run_id, self.options.as_of, full_scan=self.report.full_scan
        )
        if self.report.status is RunStatus.OK:
            self.store.set_watermark(
                self.connection,
                pulled_from,
                self.options.as_of,
                self.report.run_id,
                playbook_digest(self.playbook),
            )

    def batch(self, number: int, engagements: list[Engagement], diff: IO[str] | None) -> None:
        now = dt.datetime.now(dt.UTC)
        remembered = self.store.get_engagement_dates(self.connection, (e.id for e in engagements))
        totals = self.report.totals
        plans: list[EngagementPlan] = []
        dates: list[EngagementDates] = []
        snapshots: list[EngagementSnapshot] = []
        names = {e.id: e.name for e in engagements}
        for engagement in engagements:
            if engagement.id in self.seen:
                # Connectors de-duplicate their overlapping queries; should one slip through,
                # planning it twice would ask the CRM for the same task twice in one batch.
                continue
            self.seen.add(engagement.id)
            totals.engagements_read += 1
            before = remembered.get(engagement.id)
            after = next_slips(engagement, before, now)
            try:
                assessment = self.evaluate(
                    engagement, self.playbook, self.options.as_of, slips=after.slips
                )
            except Exception as exc:  # one bad record must not stop the run
                message = f"could not evaluate: {exc.__class__.__name__}: {exc}"
                self.report.errors.append(RecordProblem(engagement.id, message))
                totals.record_errors += 1
                log_event(
                    log, logging.WARNING, "evaluate_failed", record_id=engagement.id, error=message
                )
                continue
            if after != before:
                dates.append(after)
            self._tally(engagement, assessment)
            plans.append(plan_engagement(engagement, assessment))
            snapshots.append(self._snapshot(engagement, assessment, after.slips))
        plan = merge(plans)
        if diff is not None:
            for line in plan_lines(plan, names):
                diff.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        outcome = self._apply(plan, names)
        self.store.record_changes(self.report.run_id, outcome.changes, names)
        if not self.options.dry_run:
            # After the apply: a crash in between recounts the same slip from the same base.
            self.store.put_engagement_dates(self.connection, dates)
            self.store.snapshots.put(self.connection, snapshots)
        self._add(outcome)
        log_event(
            log,
            logging.INFO,
            "batch_done",
            connection=self.connection,
            run_id=self.report.run_id,
            batch=number,
            read=len(engagements),
            fields=outcome.fields_updated,
            opened=outcome.tasks_opened,
            closed=outcome.tasks_closed,
            reworded=outcome.tasks_updated,
            reopened=outcome.tasks_reopened,
            errors=len(outcome.problems),
        )
        if self.on_progress is not None:
            self.on_progress(totals)

    def _snapshot(
        self, engagement: Engagement, assessment: Assessment, slips: int
    ) -> EngagementSnapshot:
        return snapshot_of(
            engagement,
            assessment,
            self.playbook,
            slips=slips,
            url=self.connector.record_url(engagement.id),
            run_id=self.report.run_id,
            as_of=self.options.as_of,
        )

    def _apply(self, plan: Plan, names: dict[str, str]) -> BatchOutcome:
        if self.options.dry_run:
            return dry_run_outcome(plan)
        if plan.empty:
            return BatchOutcome()
        try:
            result = self.connector.apply(plan)
        except BaseException as exc:
            # What reached the CRM is unknown: keep the plan in history as unconfirmed. The
            # next run re-reads these records (the watermark did not move) and converges.
            self.store.record_changes(
                self.report.run_id, unconfirmed_outcome(plan, str(exc) or repr(exc)).changes, names
            )
            raise
        return applied_outcome(plan, result)

    def _tally(self, engagement: Engagement, assessment: Assessment) -> None:
        totals = self.report.totals
        if assessment.health is not None:
            name = assessment.health.value
            setattr(totals, name, getattr(totals, name) + 1)
        for finding in assessment.findings:
            totals.findings_by_rule[finding.rule] = totals.findings_by_rule.get(finding.rule, 0) + 1
        if self.options.keep_engagements:
            self.report.engagements.append(EngagementSummary.of(engagement, assessment))

    def _add(self, outcome: BatchOutcome) -> None:
        add_outcome(self.report, outcome)
