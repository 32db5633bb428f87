"""The report's figures as JSON and as CSV, for BI tools.

Both are views of one ``Figures`` value: the JSON document nests them by figure; the CSV is
one long table (``figure, group, series, value``) that a BI tool pivots as it likes, with the
engagements needing attention listed field by field under the figure ``attention``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from servefirst.sync.report.figures import HEALTH, Figures, rule_label
from servefirst.sync.state.records import EngagementSnapshot


def _iso(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def engagement_json(s: EngagementSnapshot) -> dict[str, object]:
    """One engagement as the report lists it."""
    return {
        "id": s.engagement_id,
        "connection": s.connection,
        "name": s.name,
        "account": s.account,
        "owner": s.owner_name or s.owner_id,
        "stage": s.stage_label,
        "health": s.health,
        "po_date": _iso(s.po_date),
        "operational_date": _iso(s.operational_date),
        "slips": s.slips,
        "rules": list(s.rules),
        "findings": [rule_label(r) for r in s.rules],
        "timetable": s.timetable,
        "waiver": s.waiver,
        "url": s.url,
    }


def to_json(figures: Figures) -> dict[str, object]:
    """The whole report as one JSON-ready document."""
    return {
        "connections": list(figures.connections),
        "as_of": _iso(figures.as_of),
        "engagements": figures.engagements,
        "forecast": [
            {"month": m.month, "orders": m.orders, "going_live": m.going_live}
            for m in figures.forecast
        ],
        "no_operational_date": figures.no_operational_date,
        "health_by_stage": [
            {"stage": r.group, **{h: getattr(r, h) for h in HEALTH}} for r in figures.by_stage
        ],
        "health_by_owner": [
            {"owner": r.group, **{h: getattr(r, h) for h in HEALTH}} for r in figures.by_owner
        ],
        "slips": [{"slips": label, "engagements": n} for label, n in figures.slips],
        "top_slippers": [engagement_json(s) for s in figures.top_slippers],
        "findings_by_rule": [
            {"rule": rule, "finding": rule_label(rule), "engagements": n}
            for rule, n in figures.findings_now
        ],
        "trend": [
            {
                "date": p.day.isoformat(),
                **{h: getattr(p, h) for h in HEALTH},
                "findings_by_rule": p.by_rule,
            }
            for p in figures.trend
        ],
        "attention": [engagement_json(s) for s in figures.attention],
    }


def _cell(value: object) -> object:
    """A list (rule ids, findings) as one cell: ids joined by spaces, words by semicolons."""
    if isinstance(value, list):
        return " ".join(value) if all(" " not in v for v in value) else "; ".join(value)
    return value


def _rows(figures: Figures) -> Iterator[tuple[str, str, str, object]]:
    yield ("summary", "all", "engagements", figures.engagements)
    yield ("summary", "all", "no_operational_date", figures.no_operational_date)
    for m in figures.forecast:
        yield ("forecast", m.month, "orders", m.orders)
        yield ("forecast", m.month, "going_live", m.going_live)
    for name, rows in (
        ("health_by_stage", figures.by_stage),
        ("health_by_owner", figures.by_owner),
    ):
        for r in rows:
            for h in HEALTH:
                yield (name, r.group, h, getattr(r, h))
    for label, n in figures.slips:
        yield ("slips", label, "engagements", n)
    for s in figures.top_slippers:
        yield ("top_slippers", s.engagement_id, "slips", s.slips)
    for rule, n in figures.findings_now:
        yield ("findings_by_rule", rule, "engagements", n)
    for p in figures.trend:
        for h in HEALTH:
            yield ("trend", p.day.isoformat(), h, getattr(p, h))
        for rule, n in p.by_rule.items():
            yield ("trend", p.day.isoformat(), rule, n)
    for engagement in figures.attention:
        item = engagement_json(engagement)
        for key, value in item.items():
            if key != "id":
                yield ("attention", engagement.engagement_id, key, _cell(value))


def to_csv(figures: Figures) -> str:
    """The figures as one long CSV table with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "group", "series", "value"))
    for figure, group, series, value in _rows(figures):
        writer.writerow((figure, group, series, "" if value is None else value))
    return out.getvalue()
