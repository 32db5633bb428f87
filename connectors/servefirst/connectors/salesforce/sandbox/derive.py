"""Fields Salesforce derives on save: names, and Opportunity and Task state from the picklists.

Opportunity ``IsClosed``, ``IsWon``, ``ForecastCategoryName`` follow the stage's
OpportunityStage row, and ``Probability`` resets to the stage default whenever the stage
changes and the writer did not set it. Task ``IsClosed`` follows ``Status``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from servefirst.connectors.salesforce.sandbox.objects import TASK_CLOSED_STATUSES
from servefirst.connectors.salesforce.sandbox.store import Record, Store

Deriver = Callable[[Store, Record, Record | None, dict[str, Any]], None]


def _full_name(_store: Store, new: Record, _old: Record | None, _given: dict[str, Any]) -> None:
    new["Name"] = " ".join(p for p in (new.get("FirstName"), new.get("LastName")) if p) or None


def stage_row(store: Store, stage: Any) -> Record | None:
    """The OpportunityStage row for a StageName value (matched on ApiName)."""
    for rec in store.tables["OpportunityStage"].values():
        if rec.get("ApiName") == stage:
            return rec
    return None


def _opportunity(store: Store, new: Record, old: Record | None, given: dict[str, Any]) -> None:
    stage = stage_row(store, new.get("StageName"))
    if stage is None:
        return
    new["IsClosed"] = bool(stage["IsClosed"])
    new["IsWon"] = bool(stage["IsWon"])
    new["ForecastCategoryName"] = stage.get("ForecastCategoryName")
    stage_changed = old is None or old.get("StageName") != new.get("StageName")
    if stage_changed and "Probability" not in given:
        new["Probability"] = stage.get("DefaultProbability")


def _task(_store: Store, new: Record, _old: Record | None, _given: dict[str, Any]) -> None:
    new["IsClosed"] = new.get("Status") in TASK_CLOSED_STATUSES


DERIVERS: dict[str, Deriver] = {
    "Contact": _full_name,
    "User": _full_name,
    "Opportunity": _opportunity,
    "Task": _task,
}
