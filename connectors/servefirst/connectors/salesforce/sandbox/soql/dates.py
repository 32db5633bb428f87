"""SOQL date literals (TODAY, LAST_N_DAYS:n, THIS_MONTH...) as inclusive day ranges.

The org's time zone is UTC, so a range of days maps onto datetimes from midnight UTC.
``LAST_N_DAYS:n`` includes today and the n days before it; ``NEXT_N_DAYS:n`` starts tomorrow.
Weeks start on Sunday, as in Salesforce's default locale.
"""

from __future__ import annotations

from datetime import date, timedelta


def _month_start(day: date, shift: int) -> date:
    month = day.month - 1 + shift
    return date(day.year + month // 12, month % 12 + 1, 1)


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)


def date_range(name: str, n: int, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of a date literal on ``today``."""
    one = timedelta(days=1)
    week = _week_start(today)
    simple = {
        "TODAY": (today, today),
        "YESTERDAY": (today - one, today - one),
        "TOMORROW": (today + one, today + one),
        "THIS_WEEK": (week, week + 6 * one),
        "LAST_WEEK": (week - 7 * one, week - one),
        "NEXT_WEEK": (week + 7 * one, week + 13 * one),
        "THIS_MONTH": (_month_start(today, 0), _month_start(today, 1) - one),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today, 0) - one),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2) - one),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year, 12, 31)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 1, 12, 31)),
        "LAST_90_DAYS": (today - 90 * one, today),
        "NEXT_90_DAYS": (today + one, today + 90 * one),
        "LAST_N_DAYS": (today - n * one, today),
        "NEXT_N_DAYS": (today + one, today + n * one),
        "LAST_N_WEEKS": (week - 7 * n * one, week - one),
        "NEXT_N_WEEKS": (week + 7 * one, week + 7 * (n + 1) * one - one),
        "LAST_N_MONTHS": (_month_start(today, -n), _month_start(today, 0) - one),
        "NEXT_N_MONTHS": (_month_start(today, 1), _month_start(today, n + 1) - one),
    }
    return simple[name]
