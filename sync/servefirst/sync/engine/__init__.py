"""The sync engine: one run of one connection, from pull to history."""

from servefirst.sync.engine.outcome import RecordProblem
from servefirst.sync.engine.report import EngagementSummary, FailureKind, RunReport
from servefirst.sync.engine.run import DEFAULT_BATCH_SIZE, SyncOptions, run_sync

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "EngagementSummary",
    "FailureKind",
    "RecordProblem",
    "RunReport",
    "SyncOptions",
    "run_sync",
]
