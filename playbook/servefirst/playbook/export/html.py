"""The timetable as one printable, self-contained HTML page for the sponsor.

Everything is inline (styles, no scripts, no fonts, images or links to fetch), so the page
opens the same from a mail attachment, offline, or printed on A4. It shows who the project is
for, the success criteria as a checklist, and the milestones on a timeline with the
Operational Date set apart: the date the project is about.
"""

from __future__ import annotations

from html import escape

from servefirst.playbook.milestones import Milestone, day, milestones
from servefirst.playbook.model import Engagement
from servefirst.playbook.timetable import Timetable
from servefirst.playbook.wording import sponsor_name

_STYLE = """
:root { --ink: #1d2733; --muted: #5b6775; --line: #c9d1da; --key: #0b6e4f; --key-bg: #e3f4ec; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 60rem; padding: 2rem; line-height: 1.45; }
header { border-bottom: 3px solid var(--key); margin-bottom: 1.5rem; padding-bottom: .75rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 .75rem; text-transform: uppercase;
     letter-spacing: .05em; color: var(--muted); }
.meta { color: var(--muted); margin: 0; }
.criteria { list-style: none; padding: 0; margin: 0; }
.criteria li { padding: .35rem 0 .35rem 2rem; position: relative; }
.criteria li::before { content: ""; position: absolute; left: 0; top: .45rem; width: 1.1rem;
  height: 1.1rem; border: 2px solid var(--ink); border-radius: 3px; }
.criteria li.met::before { background: var(--key); border-color: var(--key); }
.criteria li.met::after { content: ""; position: absolute; left: .38rem; top: .55rem;
  width: .35rem; height: .7rem; border: solid #fff; border-width: 0 3px 3px 0;
  transform: rotate(45deg); }
.timeline { position: relative; height: 7.5rem; margin: 1rem 4rem 2rem; }
.timeline .axis { position: absolute; left: 0; right: 0; top: 3.5rem; height: 4px;
  background: var(--line); border-radius: 2px; }
.timeline .dot { position: absolute; top: 3.05rem; width: 1rem; height: 1rem;
  margin-left: -.5rem; border-radius: 50%; background: #fff; border: 3px solid var(--ink); }
.timeline .label { position: absolute; width: 8rem; margin-left: -4rem; text-align: center;
  font-size: .8rem; }
.timeline .up { top: 0; } .timeline .down { top: 4.6rem; }
.timeline .key .dot, .timeline .dot.key { width: 1.5rem; height: 1.5rem; margin-left: -.75rem;
  top: 2.8rem; background: var(--key); border-color: var(--key); }
.timeline .label.key { font-weight: 700; color: var(--key); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: .8rem; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
tr.key td { background: var(--key-bg); font-weight: 700; }
tr.key td:first-child { border-left: 4px solid var(--key); }
.keydate { display: inline-block; margin-top: .75rem; padding: .5rem .9rem; border-radius: 6px;
  background: var(--key-bg); border: 2px solid var(--key); font-size: 1.1rem; }
.keydate strong { color: var(--key); }
footer { margin-top: 2rem; color: var(--muted); font-size: .8rem; }
@media print {
  body { padding: 0; max-width: none; }
  @page { size: A4; margin: 15mm; }
  tr, li { break-inside: avoid; }
}
"""


def to_html(engagement: Engagement, table: Timetable) -> str:
    """The whole page as one string (UTF-8, no external assets)."""
    items = milestones(table)
    sponsor = sponsor_name(engagement)
    key = next((m for m in items if m.key_date), None)
    title = f"Project timetable: {engagement.name}"
    who = [f"Sponsor: {sponsor}" if sponsor else "Sponsor: to be named"]
    if engagement.account:
        who.insert(0, engagement.account)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="meta">{" &middot; ".join(escape(w) for w in who)}</p>',
    ]
    if key is not None:
        when = day(key.date) if key.date else "to be agreed"
        parts.append(
            f'<p class="keydate" id="operational-date">Operational Date: '
            f"<strong>{escape(when)}</strong></p>"
        )
    parts.append("</header>")
    parts += _criteria(engagement)
    parts.append("<h2>Milestones</h2>")
    parts += _timeline(items)
    parts += _table(items)
    parts.append(
        f"<footer>Planned on {escape(day(table.as_of))}. The Operational Date is when the "
        "solution is working and meeting the success criteria above.</footer>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _criteria(engagement: Engagement) -> list[str]:
    parts = ["<h2>Success criteria</h2>"]
    if not engagement.success_criteria:
        return [*parts, "<p>Not written down yet: what must be true when the solution works?</p>"]
    parts.append('<ul class="criteria">')
    for criterion in engagement.success_criteria:
        met = ' class="met"' if criterion.met else ""
        state = "met" if criterion.met else "open"
        parts.append(f'<li{met} data-state="{state}">{escape(criterion.text)}</li>')
    parts.append("</ul>")
    return parts


def _timeline(items: list[Milestone]) -> list[str]:
    """Dated milestones placed by date along one axis (undated ones only in the table)."""
    dated = [m for m in items if m.date is not None]
    if len(dated) < 2:
        return []
    first = min(m.date for m in dated if m.date)
    last = max(m.date for m in dated if m.date)
    span = max((last - first).days, 1)
    parts = ['<div class="timeline" role="img" aria-label="Milestones on a timeline">']
    parts.append('<div class="axis"></div>')
    for index, item in enumerate(dated):
        assert item.date is not None  # noqa: S101 - filtered above
        left = 100 * (item.date - first).days / span
        side = "up" if index % 2 == 0 else "down"  # neighbours alternate: labels never overlap
        key = " key" if item.key_date else ""
        parts.append(f'<div class="dot{key}" style="left:{left:.2f}%"></div>')
        parts.append(
            f'<div class="label {side}{key}" style="left:{left:.2f}%">'
            f"{escape(item.title)}<br>{escape(day(item.date))}</div>"
        )
    parts.append("</div>")
    return parts


def _table(items: list[Milestone]) -> list[str]:
    parts = ["<table><thead><tr><th>Milestone</th><th>Date</th><th></th></tr></thead><tbody>"]
    for item in items:
        row = ' class="key"' if item.key_date else ""
        when = day(item.date) if item.date else "to be planned"
        parts.append(
            f"<tr{row}><td>{escape(item.title)}</td><td>{escape(when)}</td>"
            f"<td>{escape(item.detail)}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts
