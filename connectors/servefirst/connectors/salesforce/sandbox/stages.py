"""The org's Opportunity stages: serve-first's own, or Salesforce's standard list.

"standard" is the list a new Salesforce org ships with (Prospecting ... Negotiation/Review,
Closed Won, Closed Lost, with their default probabilities and forecast categories), so an
empty sandbox is a fresh org and stage mapping (playbook stage -> existing value) gets
exercised; "servefirst" is an org whose admin already added Discover ... Deliver.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    label: str
    probability: float
    forecast: str  # ForecastCategoryName
    closed: bool = False
    won: bool = False


_CLOSED = (
    Stage("Closed Won", 100.0, "Closed", closed=True, won=True),
    Stage("Closed Lost", 0.0, "Omitted", closed=True),
)

STAGE_SETS: dict[str, tuple[Stage, ...]] = {
    "servefirst": (
        Stage("Discover", 10.0, "Pipeline"),
        Stage("Diagnose", 25.0, "Pipeline"),
        Stage("Design", 50.0, "Best Case"),
        Stage("Deliver", 75.0, "Commit"),
        *_CLOSED,
    ),
    "standard": (
        Stage("Prospecting", 10.0, "Pipeline"),
        Stage("Qualification", 10.0, "Pipeline"),
        Stage("Needs Analysis", 20.0, "Pipeline"),
        Stage("Value Proposition", 50.0, "Pipeline"),
        Stage("Id. Decision Makers", 60.0, "Pipeline"),
        Stage("Perception Analysis", 70.0, "Pipeline"),
        Stage("Proposal/Price Quote", 75.0, "Pipeline"),
        Stage("Negotiation/Review", 90.0, "Pipeline"),
        *_CLOSED,
    ),
}

_FORECAST_TYPE = {
    "Pipeline": "Pipeline",
    "Best Case": "BestCase",
    "Commit": "Forecast",
    "Closed": "Closed",
    "Omitted": "Omitted",
}


#: How the playbook's stages map onto a standard org's pipeline, written into the sandbox's
#: ``servefirst.toml`` so the default path (serve, provision, sync) maps rather than adds.
STANDARD_STAGE_MAP = {
    "discover": "Prospecting",
    "diagnose": "Needs Analysis",
    "design": "Proposal/Price Quote",
    "deliver": "Negotiation/Review",
}


def default_stage_map(name: str) -> dict[str, str]:
    """The ``stage_map`` a connection to an org with this stage set needs (none for servefirst)."""
    return dict(STANDARD_STAGE_MAP) if name == "standard" else {}


def stage_set(name: str) -> tuple[Stage, ...]:
    if name not in STAGE_SETS:
        raise ValueError(f"unknown stage set {name!r}: use one of {', '.join(STAGE_SETS)}")
    return STAGE_SETS[name]


def forecast_type(category_name: str) -> str:
    """OpportunityStage.ForecastCategory (API value) for a ForecastCategoryName label."""
    return _FORECAST_TYPE[category_name]
