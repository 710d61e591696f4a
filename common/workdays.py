"""Chinese working days: add N working days to a date.

The official holiday schedule is decreed each year, so it lives in the database (`CalendarYear`,
`CalendarDay`), seeded from the chinesecalendar library and extended by a supervisor in the admin.
A year with no data falls back to Monday-to-Friday, with a logged warning.
"""

from __future__ import annotations

import datetime
import logging

from common.models import CalendarDay, CalendarYear

logger = logging.getLogger(__name__)


def _is_weekday(day: datetime.date) -> bool:
    return day.weekday() < 5


def _warn_no_schedule(year: int) -> None:
    logger.warning(
        "No holiday schedule for %s: counting Monday to Friday as working days. "
        "Add the official schedule in the admin (holiday calendar years).",
        year,
    )


def add_working_days(start: datetime.date, days: int) -> datetime.date:
    """The date `days` Chinese working days after `start` (start itself is not counted).

    One query for the calendar years and one for the exception days in the span.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    # A span generous enough for Golden Week and Spring Festival (9 days off in a row).
    horizon = start + datetime.timedelta(days=days * 2 + 21)
    known_years = set(
        CalendarYear.objects.filter(year__range=(start.year, horizon.year)).values_list(
            "year", flat=True
        )
    )
    exceptions = dict(
        CalendarDay.objects.filter(date__gt=start, date__lte=horizon).values_list(
            "date", "is_working_day"
        )
    )
    warned: set[int] = set()
    day = start
    remaining = days
    while remaining:
        day += datetime.timedelta(days=1)
        if day.year not in known_years and day.year not in warned:
            warned.add(day.year)
            _warn_no_schedule(day.year)
        is_working = exceptions.get(day, _is_weekday(day))
        if is_working:
            remaining -= 1
    return day


def is_working_day(day: datetime.date) -> bool:
    """Whether `day` is a Chinese working day (weekends-only for a year with no data)."""
    exception = CalendarDay.objects.filter(date=day).values_list("is_working_day", flat=True)
    for value in exception:
        return value
    if not CalendarYear.objects.filter(year=day.year).exists():
        _warn_no_schedule(day.year)
    return _is_weekday(day)


def seed_calendar_from_library(calendar_year_model=CalendarYear, calendar_day_model=CalendarDay):
    """Load every year the chinesecalendar library knows; idempotent. Returns years loaded.

    Takes the models as arguments so that a data migration can pass its historical models.
    """
    import chinese_calendar
    from chinese_calendar import constants

    years = sorted({d.year for d in constants.holidays} | {d.year for d in constants.workdays})
    loaded = []
    for year in years:
        cal_year, _created = calendar_year_model.objects.get_or_create(
            year=year, defaults={"source": "chinesecalendar"}
        )
        if cal_year.source != "chinesecalendar":
            continue  # a supervisor's manual schedule wins
        day = datetime.date(year, 1, 1)
        rows = []
        while day.year == year:
            working = chinese_calendar.is_workday(day)
            if working != _is_weekday(day):
                _on_holiday, name = chinese_calendar.get_holiday_detail(day)
                rows.append(
                    calendar_day_model(
                        calendar_year=cal_year,
                        date=day,
                        is_working_day=working,
                        name=str(name or ""),
                    )
                )
            day += datetime.timedelta(days=1)
        calendar_day_model.objects.bulk_create(rows, ignore_conflicts=True)
        loaded.append(year)
    return loaded
