"""The timetable as an iCalendar file: one all-day event per dated milestone.

Written with the ``icalendar`` library so that common calendar apps open it. Event ids are
derived from the engagement and the milestone, so importing a newer export updates the events
instead of duplicating them; the stamp is the planning day, so the same timetable always gives
the same file.
"""

from __future__ import annotations

import datetime as dt
import re

from icalendar import Calendar, Event

from servefirst.playbook.milestones import milestones
from servefirst.playbook.model import Engagement
from servefirst.playbook.timetable import Timetable

PRODID = "-//servefirst//project timetable//EN"


def to_ics(engagement: Engagement, table: Timetable) -> bytes:
    """An RFC 5545 calendar of the timetable's dated milestones."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"Project timetable: {engagement.name}")
    stamp = dt.datetime.combine(table.as_of, dt.time(), tzinfo=dt.UTC)
    for item in milestones(table):
        if item.date is None:
            continue
        event = Event()
        slug = "-".join(re.findall(r"[a-z0-9]+", item.title.lower()))
        event.add("uid", f"{engagement.id}-{slug}@servefirst")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.date)
        event.add("dtend", item.date + dt.timedelta(days=1))
        event.add("summary", f"{item.title}: {engagement.name}")
        if item.detail:
            event.add("description", item.detail[0].upper() + item.detail[1:])
        event.add("transp", "TRANSPARENT")
        if item.key_date:
            event.add("priority", 1)
            event.add("categories", ["Key date"])
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
