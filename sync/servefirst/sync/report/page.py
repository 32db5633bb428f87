"""The report as one self-contained HTML page.

Everything the page needs is inside it: charts as SVG data URIs, styles and the few lines of
script that sort the table. Its content security policy forbids fetching anything, so the
page is provably the same offline, and a stray external reference would show up as a console
error rather than as a silent request. Links to CRM records are plain navigation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from html import escape

from servefirst.sync.report import charts
from servefirst.sync.report.figures import HEALTH, HEALTH_LABELS, Figures, HealthRow, rule_label
from servefirst.sync.state.records import EngagementSnapshot

#: Rows of the attention table a page holds: beyond this a browser table helps nobody, and the
#: page stays small; off-track engagements come first, so the most urgent are always there.
ATTENTION_ROWS = 1000
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2933}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d9e2ec;padding-bottom:.3rem}
.sub{color:#52606d;margin-top:0}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d9e2ec;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.6rem}.on_track b{color:#2e7d32}.at_risk b{color:#b27700}
.off_track b{color:#c62828}.pair{display:flex;gap:2rem;flex-wrap:wrap}.pair>div{flex:1 1 420px}
img{max-width:100%;height:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f5f7fa}table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.num,th.num{text-align:right}.health{font-weight:600}.health.at_risk{color:#b27700}
.health.off_track{color:#c62828}.health.on_track{color:#2e7d32}.rules{color:#7b8794;
font-size:.8rem}details{margin:.5rem 0}summary{cursor:pointer;color:#52606d}
"""
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var numeric = th.classList.contains("num");
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-sort"), y = b.cells[col].getAttribute("data-sort");
        var d = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? d : -d;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  table.classList.add("ready");
});
"""


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: int = 1) -> str:
    """A plain table; the last ``numeric`` columns are right-aligned numbers."""
    first = len(headers) - numeric
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i >= first else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(str(v))}</td>' if i >= first else f"<td>{escape(str(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _numbers(table: str) -> str:
    return f"<details><summary>Show the numbers</summary>{table}</details>"


def _chart(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{escape(alt)}">'


def _health_rows(rows: Sequence[HealthRow], what: str) -> str:
    return _numbers(
        _table(
            (what, *(HEALTH_LABELS[h] for h in HEALTH)),
            ((r.group, *(getattr(r, h) for h in HEALTH)) for r in rows),
            numeric=3,
        )
    )


def _name(s: EngagementSnapshot) -> str:
    if s.url:
        return f'<a href="{escape(s.url)}" target="_blank" rel="noopener">{escape(s.name)}</a>'
    return escape(s.name)


def _date(day: dt.date | None) -> str:
    return "" if day is None else day.isoformat()


def _cell(value: str, sort: object, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<td{cls} data-sort="{escape(str(sort))}">{value}</td>'


def _attention(everyone: Sequence[EngagementSnapshot], several: bool) -> str:
    if not everyone:
        return "<p>No engagement is at risk or off track.</p>"
    rows = everyone[:ATTENTION_ROWS]
    note = ""
    if len(everyone) > len(rows):
        note = (
            f"<p>The {len(rows):,} most urgent of {len(everyone):,} are listed here; the JSON "
            "and CSV formats list them all.</p>"
        )
    rank = {"off_track": 0, "at_risk": 1}
    headers = ["Engagement", "Account", "Owner", "Stage", "Health"]
    headers += ["PO date", "Operational Date", "Slips", "Findings"]
    if several:
        headers.insert(1, "Connection")
    numeric = {"Slips"}
    head = "".join(
        f'<th class="num" scope="col">{h}</th>' if h in numeric else f'<th scope="col">{h}</th>'
        for h in headers
    )
    body = []
    for s in rows:
        owner = s.owner_name or s.owner_id or ""
        findings = "; ".join(rule_label(r) for r in s.rules)
        cells = [
            _cell(_name(s), s.name.lower()),
            _cell(escape(s.account or ""), (s.account or "").lower()),
            _cell(escape(owner), owner.lower()),
            _cell(escape(s.stage_label), f"{s.stage_rank:03d}"),
            _cell(
                escape(HEALTH_LABELS.get(s.health or "", "")),
                rank.get(s.health or "", 9),
                f"health {s.health}",
            ),
            _cell(_date(s.po_date), _date(s.po_date) or "9999"),
            _cell(_date(s.operational_date), _date(s.operational_date) or "9999"),
            _cell(str(s.slips), s.slips, "num"),
            _cell(
                f'{escape(findings)}<div class="rules">{escape(" ".join(s.rules))}</div>',
                findings.lower(),
            ),
        ]
        if several:
            cells.insert(1, _cell(escape(s.connection), s.connection))
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'{note}<table class="sortable" id="attention"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cards(figures: Figures) -> str:
    counts = {h: sum(getattr(r, h) for r in figures.by_stage) for h in HEALTH}
    cards = [f'<div class="card"><b>{figures.engagements}</b>engagements</div>']
    cards += [
        f'<div class="card {h}"><b>{counts[h]}</b>{HEALTH_LABELS[h].lower()}</div>' for h in HEALTH
    ]
    cards.append(
        f'<div class="card"><b>{figures.no_operational_date}</b>without an Operational Date</div>'
    )
    return f'<div class="cards">{"".join(cards)}</div>'


def render(figures: Figures, generated: dt.datetime) -> str:
    """The whole page."""
    where = ", ".join(figures.connections) or "no connection"
    as_of = figures.as_of.isoformat() if figures.as_of else "never synced"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>Serve-first pipeline: {escape(where)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Serve-first pipeline</h1>",
        f'<p class="sub">{escape(where)} · as of the last sync on {as_of} · report made '
        f"{generated.strftime('%Y-%m-%d %H:%M')} UTC from servefirst's history, without asking "
        "the CRM.</p>",
        _cards(figures),
        "<h2>Operational-Date forecast</h2>",
        "<p>When customers will be live, month by month, beside when their orders are "
        "expected. Lost engagements are left out.</p>",
    ]
    if figures.forecast:
        parts.append(_chart(charts.forecast_chart(figures.forecast), "Operational-Date forecast"))
        parts.append(
            _numbers(
                _table(
                    ("Month", "PO expected", "Going live"),
                    ((m.month, m.orders, m.going_live) for m in figures.forecast),
                    numeric=2,
                )
            )
        )
    parts.append('<h2>Health</h2><div class="pair">')
    for rows, what in ((figures.by_stage, "stage"), (figures.by_owner, "owner")):
        parts.append(f"<div><h3>By {what}</h3>")
        if rows:
            parts.append(_chart(charts.health_chart(rows, what), f"Health by {what}"))
            parts.append(_health_rows(rows, what.capitalize()))
        parts.append("</div>")
    parts.append("</div>")
    parts += [
        '<h2>Slips</h2><div class="pair"><div>',
        _chart(charts.slips_chart(figures.slips), "How often Operational Dates moved later"),
        _numbers(_table(("Times moved later", "Engagements"), figures.slips)),
        "</div><div><h3>Most slipped</h3>",
        _table(
            ("Engagement", "Owner", "Operational Date", "Slips"),
            (
                (s.name, s.owner_name or s.owner_id or "", _date(s.operational_date), s.slips)
                for s in figures.top_slippers
            ),
        )
        if figures.top_slippers
        else "<p>No Operational Date has moved later.</p>",
        "</div></div>",
        "<h2>Findings over time</h2>",
    ]
    if figures.trend:
        parts.append(_chart(charts.trend_chart(figures.trend), "Findings by rule over time"))
    parts.append(
        _table(
            ("Finding", "Rule", "Engagements now"),
            ((rule_label(rule), rule, n) for rule, n in figures.findings_now),
        )
    )
    parts += [
        "<h2>Needs attention</h2>",
        "<p>At-risk and off-track engagements. Click a column to sort; a name opens the "
        "record in the CRM.</p>",
        _attention(figures.attention, len(figures.connections) > 1),
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)
