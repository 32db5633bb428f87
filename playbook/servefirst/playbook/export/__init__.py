"""The project timetable exported for the sponsor: Markdown, a printable HTML page, a calendar.

Pure functions from an engagement and its timetable to text or bytes: no I/O, no CRM. The
``servefirst plan`` command pulls the engagement and writes what these return.
"""
