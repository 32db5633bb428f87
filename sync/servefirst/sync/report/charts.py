"""The report's charts, drawn by matplotlib as SVG.

Why matplotlib: it is a long-maintained plotting library that installs from PyPI as wheels with
no browser or JavaScript of its own, and its SVG output needs nothing at view time. Each chart is
embedded as an SVG data URI (text drawn as paths), so the page shows the same on any machine,
offline, and one chart's element ids can never collide with another's.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from contextlib import AbstractContextManager

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from servefirst.sync.report.figures import (
    HEALTH,
    HEALTH_LABELS,
    HealthRow,
    MonthCount,
    TrendPoint,
    rule_label,
)

COLORS = {"on_track": "#2e7d32", "at_risk": "#f0a202", "off_track": "#c62828"}
ORDERS = "#90a4ae"
LIVE = "#1565c0"
_MAX_ROWS = 15


def _style() -> AbstractContextManager[None]:
    """Text drawn as paths (no font needed to view) and stable element ids between runs."""
    return mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": "servefirst", "font.size": 10})


def _svg(fig: Figure) -> str:
    """The figure as a ``data:`` URI holding its SVG."""
    buffer = io.BytesIO()
    with _style():
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    with _style():
        fig = Figure(figsize=(width, height), dpi=100)
        ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def forecast_chart(months: Sequence[MonthCount]) -> str:
    """Engagements going live each month, beside the POs expected that month."""
    fig, ax = _figure(10, 3.6)
    x = range(len(months))
    width = 0.4
    orders = [m.orders for m in months]
    live = [m.going_live for m in months]
    ax.bar([i - width / 2 for i in x], orders, width, color=ORDERS, label="PO expected")
    ax.bar([i + width / 2 for i in x], live, width, color=LIVE, label="Going live")
    ax.set_xticks(list(x), [m.month for m in months], rotation=45, ha="right")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("Engagements")
    ax.legend(frameon=False, loc="upper left")
    return _svg(fig)


def health_chart(rows: Sequence[HealthRow], what: str) -> str:
    """Horizontal bars of engagements by health, one bar per stage or owner."""
    shown = list(rows[:_MAX_ROWS])
    fig, ax = _figure(6.4, max(1.6, 0.42 * len(shown) + 1.0))
    labels = [r.group for r in shown]
    left = [0] * len(shown)
    for health in HEALTH:
        values = [getattr(r, health) for r in shown]
        ax.barh(labels, values, left=left, color=COLORS[health], label=HEALTH_LABELS[health])
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"Engagements by {what}")
    ax.legend(frameon=False, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _svg(fig)


def slips_chart(slips: Sequence[tuple[str, int]]) -> str:
    """How many engagements slipped their Operational Date how many times."""
    fig, ax = _figure(6.4, 3.0)
    ax.bar([label for label, _ in slips], [n for _, n in slips], color=LIVE)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Times the Operational Date moved later")
    ax.set_ylabel("Engagements")
    return _svg(fig)


def trend_chart(points: Sequence[TrendPoint]) -> str:
    """Engagements with each finding, day by day."""
    fig, ax = _figure(10, 3.6)
    rules = sorted({rule for p in points for rule in p.by_rule})
    days = [p.day.isoformat() for p in points]
    for rule in rules:
        ax.plot(days, [p.by_rule.get(rule, 0) for p in points], marker="o", label=rule_label(rule))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("Engagements")
    ax.tick_params(axis="x", labelrotation=45)
    if rules:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig)
