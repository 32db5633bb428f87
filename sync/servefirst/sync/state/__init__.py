"""The state store: watermarks, last seen key dates, run history and changes (SQLAlchemy 2)."""

from servefirst.sync.state.lease import LeaseHeldError, LeaseLostError
from servefirst.sync.state.records import (
    COUNT_NAMES,
    HEALTH_NAMES,
    ChangeRecord,
    EngagementDates,
    Lease,
    RetryEntry,
    RunRecord,
    RunStatus,
    RunTotals,
    Watermark,
)
from servefirst.sync.state.retry import RetryBackoff
from servefirst.sync.state.store import StateStore, create_state_engine

__all__ = [
    "COUNT_NAMES",
    "HEALTH_NAMES",
    "ChangeRecord",
    "EngagementDates",
    "Lease",
    "LeaseHeldError",
    "LeaseLostError",
    "RetryBackoff",
    "RetryEntry",
    "RunRecord",
    "RunStatus",
    "RunTotals",
    "StateStore",
    "Watermark",
    "create_state_engine",
]
