"""What a full scan on a given day would leave in the CRM, compared with what a desk reads there.

The comparison the proof of "incremental equals full" makes after every clean run: from the
CRM's own data (a desk's snapshot) and the playbook alone, the plugin-owned values and open tasks
every engagement should hold, and where the CRM differs. It shares nothing with the sync's diff,
so a bug there cannot hide itself here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from servefirst.connectors.base import PLUGIN_FIELDS
from servefirst.connectors.sandboxkit.desk import Snapshot
from servefirst.playbook.definition import Playbook
from servefirst.playbook.evaluate import evaluate
from servefirst.playbook.model import Engagement, Status

#: Per engagement, the state's memory: the last Operational Date seen and the slips counted.
Remembered = Mapping[str, tuple[dt.date | None, int]]


def expected_slips(engagement: Engagement, remembered: tuple[dt.date | None, int] | None) -> int:
    """The slip count a full scan would hold, from the state's memory of the last date seen.

    An engagement the state never saw starts from what the CRM shows; otherwise a date later
    than the last one seen is one more slip.
    """
    if remembered is None:
        return max(engagement.current.slips or 0, 0)
    last, slips = remembered
    date = engagement.operational_date
    return slips + 1 if date is not None and last is not None and date > last else slips


def _same(have: object, want: object) -> bool:
    """CRMs send an empty text as ``None`` or ``""``: both mean empty."""
    if isinstance(have, str | None) and isinstance(want, str | None):
        return (have or None) == (want or None)
    return have == want


def full_scan_differences(
    snapshot: Snapshot, playbook: Playbook, as_of: dt.date, remembered: Remembered
) -> list[str]:
    """Every way the CRM differs from what a full scan on ``as_of`` would leave, one per line."""
    wrong: list[str] = []
    for eid, engagement in snapshot.engagements.items():
        slips = expected_slips(engagement, remembered.get(eid))
        assessment = evaluate(engagement, playbook, as_of, slips=slips)
        if assessment.desired is not None:
            for name in PLUGIN_FIELDS:
                have = getattr(engagement.current, name)
                want = getattr(assessment.desired, name)
                if not _same(have, want):
                    wrong.append(f"{eid} {name}: CRM has {have!r}, a full scan wants {want!r}")
        want_tasks = sorted(t.key for t in assessment.tasks)
        have_tasks = sorted(t.key for t in engagement.open_tasks)
        if want_tasks != have_tasks:
            wrong.append(f"{eid} open tasks: CRM has {have_tasks}, a full scan wants {want_tasks}")
    counts = Counter(t.key for t in snapshot.open_tasks)
    wrong += [f"two open tasks for {key}" for key, n in sorted(counts.items()) if n > 1]
    return wrong


@dataclass
class _Dates:
    last_set: dt.date | None = None
    last_checked: dt.date | None = None
    most: int = 0
    least: int = 0


@dataclass
class SlipBounds:
    """What the slip count may be, from the dates reps set, whatever the runs saw in between.

    Runs see an engagement's Operational Date only now and then, so the count they keep is the
    number of times the date moved later *between two sightings*. That is at most the number of
    times a rep set it later than its previous value, and at least the number of times it moved
    later between two clean runs (which see every engagement). A count outside these bounds was
    counted twice (a replay) or lost.
    """

    dates: dict[str, _Dates] = field(default_factory=dict)

    def set(self, eid: str, when: dt.date | None) -> None:
        """A rep set (or cleared) the date; a cleared date keeps the last one for comparison."""
        dates = self.dates.setdefault(eid, _Dates())
        if when is None:
            return
        if dates.last_set is not None and when > dates.last_set:
            dates.most += 1
        dates.last_set = when

    def observe(self, snapshot: Snapshot) -> None:
        """A clean run saw every engagement as the snapshot shows it."""
        for eid, engagement in snapshot.engagements.items():
            dates = self.dates.setdefault(eid, _Dates())
            when = engagement.operational_date
            if when is None:
                continue
            if dates.last_checked is not None and when > dates.last_checked:
                dates.least += 1
            dates.last_checked = when

    def outside(self, snapshot: Snapshot) -> list[str]:
        """Engagements whose slip count in the CRM is outside its bounds."""
        wrong = []
        for eid, engagement in snapshot.engagements.items():
            dates = self.dates.get(eid)
            slips = engagement.current.slips
            if dates is None or slips is None or engagement.status is Status.LOST:
                continue  # closed lost: the playbook leaves its fields as they were
            if not dates.least <= slips <= dates.most:
                wrong.append(
                    f"{eid} slips: CRM has {slips}, reps moved the date later between "
                    f"{dates.least} and {dates.most} times"
                )
        return wrong
