"""The state store: watermarks, last seen key dates, run history and changes (SQLAlchemy 2)."""

from servefirst.sync.state.records import (
    COUNT_NAMES,
    HEALTH_NAMES,
    ChangeRecord,
    EngagementDates,
    RunRecord,
    RunStatus,
    RunTotals,
    Watermark,
)
from servefirst.sync.state.store import StateStore, create_state_engine

__all__ = [
    "COUNT_NAMES",
    "HEALTH_NAMES",
    "ChangeRecord",
    "EngagementDates",
    "RunRecord",
    "RunStatus",
    "RunTotals",
    "StateStore",
    "Watermark",
    "create_state_engine",
]
