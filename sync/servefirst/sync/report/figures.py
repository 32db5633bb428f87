"""The report's figures, computed from snapshots and pipeline history alone.

Pure functions over the state store's records: the HTML page, the JSON document and the CSV
file all render this one ``Figures`` value, so the three formats always carry the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from servefirst.sync.state.records import EngagementSnapshot, PipelinePoint

HEALTH = ("on_track", "at_risk", "off_track")
HEALTH_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track"}
#: Slip counts from this many up share one bucket of the distribution.
SLIP_CAP = 4
TOP_SLIPPERS = 10
NO_OWNER = "No owner"

#: Plain names of the built-in rules; a rule a playbook adds reads as its id in words.
RULE_LABELS = {
    "sponsor_missing": "No sponsor",
    "success_criteria_missing": "No success criteria",
    "operational_date_missing": "No Operational Date",
    "operational_date_before_po": "Operational Date before the PO",
    "operational_date_past": "Operational Date passed",
    "po_date_past": "PO date passed",
    "operational_date_infeasible": "Operational Date too soon",
    "success_unconfirmed": "Success not confirmed",
    "operational_date_slipped": "Operational Date keeps slipping",
    "stage_unmapped": "Stage not in the playbook",
}


def rule_label(rule: str) -> str:
    """A rule's plain name for people."""
    return RULE_LABELS.get(rule) or rule.replace("_", " ").capitalize()


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class MonthCount:
    """Engagements whose PO is expected and engagements going live in one month."""

    month: str
    orders: int
    going_live: int


@dataclass(frozen=True)
class HealthRow:
    """Engagements of one group (a stage, an owner) by health."""

    group: str
    on_track: int
    at_risk: int
    off_track: int

    @property
    def total(self) -> int:
        return self.on_track + self.at_risk + self.off_track


@dataclass(frozen=True)
class TrendPoint:
    """The pipeline on one day: health counts and findings by rule (latest run of each day)."""

    day: dt.date
    on_track: int
    at_risk: int
    off_track: int
    by_rule: dict[str, int]


@dataclass(frozen=True)
class Figures:
    """Everything the report shows, computed once."""

    connections: tuple[str, ...]
    as_of: dt.date | None
    engagements: int
    forecast: tuple[MonthCount, ...]
    no_operational_date: int
    by_stage: tuple[HealthRow, ...]
    by_owner: tuple[HealthRow, ...]
    slips: tuple[tuple[str, int], ...]
    top_slippers: tuple[EngagementSnapshot, ...]
    findings_now: tuple[tuple[str, int], ...]
    trend: tuple[TrendPoint, ...]
    attention: tuple[EngagementSnapshot, ...] = field(default=())


def _active(snapshots: Iterable[EngagementSnapshot]) -> list[EngagementSnapshot]:
    """Engagements still being worked or delivered: lost ones drop out of every figure."""
    return [s for s in snapshots if s.status != "lost"]


def forecast(snapshots: Sequence[EngagementSnapshot]) -> tuple[tuple[MonthCount, ...], int]:
    """Per month, POs expected and engagements going live; and how many have no Operational Date.

    This is the outcomes forecast: not when customers buy, but when they will be live.
    """
    orders: Counter[str] = Counter()
    live: Counter[str] = Counter()
    missing = 0
    for s in snapshots:
        if s.po_date is not None:
            orders[_month(s.po_date)] += 1
        if s.operational_date is not None:
            live[_month(s.operational_date)] += 1
        else:
            missing += 1
    months = sorted(set(orders) | set(live))
    return tuple(MonthCount(m, orders[m], live[m]) for m in months), missing


def _health_rows(pairs: Iterable[tuple[str, str]], order: Sequence[str]) -> tuple[HealthRow, ...]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for group, health in pairs:
        counts[group][health] += 1
    return tuple(HealthRow(g, *(counts[g][h] for h in HEALTH)) for g in order if g in counts)


def by_stage(snapshots: Sequence[EngagementSnapshot]) -> tuple[HealthRow, ...]:
    """Health by stage, stages in the playbook's order (then outside ones, then closed ones)."""
    rated = [s for s in snapshots if s.health in HEALTH]
    ranks: dict[str, int] = {}
    for s in rated:
        ranks[s.stage_label] = min(ranks.get(s.stage_label, s.stage_rank), s.stage_rank)
    order = sorted(ranks, key=lambda label: (ranks[label], label))
    return _health_rows(((s.stage_label, s.health or "") for s in rated), order)


def by_owner(snapshots: Sequence[EngagementSnapshot]) -> tuple[HealthRow, ...]:
    """Health by owner, the owners with most engagements needing attention first."""
    rated = [s for s in snapshots if s.health in HEALTH]
    rows = _health_rows(
        ((s.owner_name or s.owner_id or NO_OWNER, s.health or "") for s in rated),
        sorted({s.owner_name or s.owner_id or NO_OWNER for s in rated}),
    )
    return tuple(sorted(rows, key=lambda r: (-(r.at_risk + r.off_track), -r.total, r.group)))


def slip_distribution(snapshots: Sequence[EngagementSnapshot]) -> tuple[tuple[str, int], ...]:
    """How many engagements slipped 0, 1, 2, 3 and 4 or more times."""
    counts = Counter(min(s.slips, SLIP_CAP) for s in snapshots)
    return tuple(
        (f"{n} or more" if n == SLIP_CAP else str(n), counts[n]) for n in range(SLIP_CAP + 1)
    )


def top_slippers(snapshots: Sequence[EngagementSnapshot]) -> tuple[EngagementSnapshot, ...]:
    slipped = [s for s in snapshots if s.slips > 0]
    slipped.sort(key=lambda s: (-s.slips, s.name, s.engagement_id))
    return tuple(slipped[:TOP_SLIPPERS])


def findings_now(snapshots: Sequence[EngagementSnapshot]) -> tuple[tuple[str, int], ...]:
    """Engagements with each finding now, most common first."""
    counts = Counter(rule for s in snapshots for rule in set(s.rules))
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def trend(points: Sequence[PipelinePoint]) -> tuple[TrendPoint, ...]:
    """The pipeline day by day, each connection counted as its latest run up to that day left it.

    Several runs a day collapse to the day's last; a connection with no run on a day still
    counts as its previous run left it, so adding up connections never dips on quiet days.
    """
    by_day: dict[dt.date, dict[str, PipelinePoint]] = defaultdict(dict)
    for p in sorted(points, key=lambda p: p.run_id):
        by_day[p.as_of][p.connection] = p
    latest: dict[str, PipelinePoint] = {}
    out: list[TrendPoint] = []
    for day in sorted(by_day):
        latest.update(by_day[day])
        rules: Counter[str] = Counter()
        for p in latest.values():
            rules.update(p.findings_by_rule)
        out.append(
            TrendPoint(
                day=day,
                on_track=sum(p.on_track for p in latest.values()),
                at_risk=sum(p.at_risk for p in latest.values()),
                off_track=sum(p.off_track for p in latest.values()),
                by_rule=dict(sorted(rules.items())),
            )
        )
    return tuple(out)


def attention(snapshots: Sequence[EngagementSnapshot]) -> tuple[EngagementSnapshot, ...]:
    """At-risk and off-track engagements, off track first, then by Operational Date."""
    flagged = [s for s in snapshots if s.health in ("at_risk", "off_track")]
    flagged.sort(
        key=lambda s: (
            s.health != "off_track",
            s.operational_date or dt.date.max,
            s.name,
            s.engagement_id,
        )
    )
    return tuple(flagged)


def compute(
    connections: Sequence[str],
    snapshots: Sequence[EngagementSnapshot],
    history: Sequence[PipelinePoint],
) -> Figures:
    """Every figure of the report, from the store's records of these connections."""
    active = _active(snapshots)
    months, missing = forecast(active)
    dates = [s.as_of for s in snapshots if s.as_of is not None]
    return Figures(
        connections=tuple(connections),
        as_of=max(dates) if dates else None,
        engagements=len(active),
        forecast=months,
        no_operational_date=missing,
        by_stage=by_stage(active),
        by_owner=by_owner(active),
        slips=slip_distribution(active),
        top_slippers=top_slippers(active),
        findings_now=findings_now(active),
        trend=trend(history),
        attention=attention(active),
    )
