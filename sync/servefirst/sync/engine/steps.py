"""The steps of one run: choose its scope, stream batches, apply them, settle what is left.

``run_sync`` (in ``run``) wraps these steps with the run's history row and its failure
handling; everything that decides what a run reads and writes lives here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from typing import IO

from servefirst.config.private import open_private
from servefirst.connectors.base import (
    Connector,
    Plan,
    PullWindow,
    RemembersStamps,
    UnmappableRecord,
)
from servefirst.playbook.definition import Playbook
from servefirst.playbook.model import Assessment, Engagement
from servefirst.sync.engine.options import Evaluate, ProgressCallback, Pulled, SyncOptions
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
from servefirst.sync.engine.report import EngagementSummary, RunReport
from servefirst.sync.engine.scope import Scope, fingerprint, incremental, settle
from servefirst.sync.engine.snapshot import snapshot_of
from servefirst.sync.engine.stop import RunStopped, StopRequest
from servefirst.sync.logs import log_event
from servefirst.sync.state.records import EngagementDates, EngagementSnapshot, RunStatus
from servefirst.sync.state.store import StateStore

log = logging.getLogger("servefirst.sync.engine")


def _batches(items: Iterable[Pulled], size: int) -> Iterator[list[Pulled]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class RunSteps:
    """The moving parts of one run (kept off ``run_sync`` so each step reads on its own)."""

    connector: Connector
    playbook: Playbook
    store: StateStore
    report: RunReport
    options: SyncOptions
    on_progress: ProgressCallback | None
    evaluate: Evaluate
    stop: StopRequest
    seen: set[str] = field(default_factory=set)

    @property
    def connection(self) -> str:
        return self.report.connection

    @property
    def digest(self) -> str:
        return fingerprint(self.playbook, self.options.mapping_digest)

    def scope(self) -> Scope:
        """Full scan on request, on first run, or when the fingerprint changed since the last.

        Otherwise the records changed since the watermark, those whose key dates the calendar
        moved past, and by id the retry set's due records and (on a new date) the
        date-sensitive ones. A changed playbook or mapping changes the findings of records
        nobody touched, so only a full scan is correct then.
        """
        mark = self.store.get_watermark(self.connection)
        changed = mark is not None and mark.playbook_digest != self.digest
        if changed:
            log_event(log, logging.INFO, "fingerprint_changed", connection=self.connection)
        if self.options.full or mark is None or changed or self._full_scan_due():
            self.report.full_scan = True
            return Scope(window=PullWindow(), full=True)
        now = dt.datetime.now(dt.UTC)
        return incremental(
            self.store, self.connection, self.playbook, mark, self.options.as_of, now
        )

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
        scope = self.scope()
        window = scope.window
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
            ids=len(window.ids),
        )
        local_start = dt.datetime.now(dt.UTC)
        with ExitStack() as stack:
            diff: IO[str] | None = None
            if self.options.diff_file is not None:
                diff = stack.enter_context(open_private(self.options.diff_file))
            if not self.options.dry_run and isinstance(self.connector, RemembersStamps):
                self.connector.recall_stamps(self.store.stamps.get(self.connection))
            pull = self.connector.pull(window)
            for number, batch in enumerate(_batches(pull, self.options.batch_size), start=1):
                self.batch(number, batch, diff)
                if self.stop.requested:
                    raise RunStopped(f"{self.stop.reason}; stopped after batch {number}")
        # The CRM's clock as of this run's first response: the pull has made its requests.
        pulled_from = self.connector.server_time()
        self._check_skew(pulled_from, local_start)
        if self.options.dry_run:
            self.report.status = RunStatus.DRY_RUN
            self.report.retry = self.store.retry_entries(self.connection, self.options.retry)
            return
        self.store.snapshots.close_run(
            self.connection, self.report.run_id, self.options.as_of, full_scan=self.report.full_scan
        )
        if self.report.full_scan and isinstance(self.connector, RemembersStamps):
            self.store.stamps.keep_only(self.connection, self.seen)
        now = dt.datetime.now(dt.UTC)
        failed: dict[str, str] = {}
        for problem in self.report.errors:
            failed.setdefault(problem.record_id, problem.message)
        settle(
            self.store,
            self.connection,
            scope,
            seen=self.seen,
            failed=failed,
            now=now,
            backoff=self.options.retry,
        )
        self.store.set_watermark(
            self.connection, pulled_from, self.options.as_of, self.report.run_id, self.digest
        )
        self.report.retry = self.store.retry_entries(self.connection, self.options.retry)
        stuck = any(entry.stuck for entry in self.report.retry)
        self.report.status = RunStatus.PARTIAL if self.report.errors or stuck else RunStatus.OK

    def _check_skew(self, crm_time: dt.datetime, local_start: dt.datetime) -> None:
        """Warn when the CRM's clock and this machine's differ by more than the overlap.

        The watermark never uses this machine's clock, but a skew that large means either
        clock is wrong, and dates evaluated "today" may then disagree with the CRM's.
        """
        slack = self.options.skew_tolerance + dt.timedelta(seconds=2)  # whole-second, cached Dates
        local_end = dt.datetime.now(dt.UTC)
        if local_start - slack <= crm_time <= local_end + slack:
            return
        skew = crm_time - (local_start if crm_time < local_start else local_end)
        log_event(
            log,
            logging.WARNING,
            "crm_clock_skew",
            connection=self.connection,
            skew_seconds=round(skew.total_seconds()),
            tolerance_seconds=round(self.options.skew_tolerance.total_seconds()),
        )

    def _unmappable(self, record: UnmappableRecord) -> None:
        self.seen.add(record.record_id)
        self.report.errors.append(RecordProblem(record.record_id, record.reason))
        self.report.totals.record_errors += 1
        log_event(
            log,
            logging.WARNING,
            "record_unmappable",
            connection=self.connection,
            record_id=record.record_id,
            error=record.reason,
        )

    def batch(self, number: int, pulled: list[Pulled], diff: IO[str] | None) -> None:
        now = dt.datetime.now(dt.UTC)
        engagements: list[Engagement] = []
        for item in pulled:
            if isinstance(item, UnmappableRecord):
                self._unmappable(item)
            else:
                engagements.append(item)
        remembered = self.store.get_engagement_dates(self.connection, (e.id for e in engagements))
        totals = self.report.totals
        plans: list[EngagementPlan] = []
        dates: list[EngagementDates] = []
        dated: dict[str, bool] = {}
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
            dated[engagement.id] = assessment.date_sensitive
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
            if isinstance(self.connector, RemembersStamps):
                done = self.connector.take_stamps(e.id for e in engagements)
                self.store.stamps.put(self.connection, done)
            self.store.set_date_sensitive(
                self.connection,
                add=[i for i, yes in dated.items() if yes],
                remove=[i for i, yes in dated.items() if not yes],
            )
        self._add(outcome)
        log_event(
            log,
            logging.INFO,
            "batch_done",
            connection=self.connection,
            run_id=self.report.run_id,
            batch=number,
            read=len(pulled),
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
