"""Chinese working days: holidays off, make-up weekends on (common/workdays.py).

The calendar for 2004-2026 is in the database from the data migration common/0002.
"""

import datetime
import logging

import pytest

from common.models import CalendarDay, CalendarYear
from common.workdays import add_working_days, is_working_day

pytestmark = pytest.mark.django_db

D = datetime.date
LOGGER = "common.workdays"


def warnings(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]


# --- the seeded calendar ------------------------------------------------------------------------


def test_the_data_migration_seeded_2004_to_2026():
    years = set(CalendarYear.objects.values_list("year", flat=True))
    assert set(range(2004, 2027)) <= years
    assert CalendarYear.objects.get(year=2025).source == "chinesecalendar"
    assert CalendarDay.objects.get(date=D(2025, 10, 1)).name == "National Day"
    assert CalendarDay.objects.get(date=D(2025, 9, 28)).is_working_day is True


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2025, 9, 26), True),  # Friday
        (D(2025, 9, 27), False),  # Saturday
        (D(2025, 9, 28), True),  # Sunday, make-up working day
        (D(2025, 9, 30), True),
        *[(D(2025, 10, d), False) for d in range(1, 9)],  # Golden Week, weekdays included
        (D(2025, 10, 9), True),
        (D(2025, 10, 11), True),  # Saturday, make-up working day
        (D(2025, 10, 12), False),  # Sunday
        (D(2025, 10, 13), True),  # Monday
        (D(2025, 1, 1), False),  # New Year's Day, a Wednesday
        (D(2026, 2, 17), False),  # Spring Festival 2026, a Tuesday
    ],
)
def test_is_working_day(day, working):
    assert is_working_day(day) is working


# --- add_working_days across Golden Week 2025 ---------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (D(2025, 9, 26), 1, D(2025, 9, 28)),  # Friday + 1: the make-up Sunday
        (D(2025, 9, 26), 3, D(2025, 9, 30)),
        (D(2025, 9, 30), 1, D(2025, 10, 9)),  # the whole of 1-8 October is off
        (D(2025, 9, 30), 2, D(2025, 10, 10)),
        (D(2025, 9, 30), 3, D(2025, 10, 11)),  # the make-up Saturday counts
        (D(2025, 9, 29), 3, D(2025, 10, 10)),
        (D(2025, 10, 1), 1, D(2025, 10, 9)),  # starting on a holiday
        (D(2025, 10, 5), 3, D(2025, 10, 11)),
        (D(2025, 10, 10), 1, D(2025, 10, 11)),
        (D(2025, 10, 10), 2, D(2025, 10, 13)),  # Sunday 12 October is off again
    ],
)
def test_add_working_days_across_golden_week(start, days, expected, caplog):
    assert add_working_days(start, days) == expected
    assert warnings(caplog) == []


def test_count_of_golden_week_working_days():
    # 25 September 2025 + 10 working days: 26, 28, 29, 30 Sep, 9, 10, 11, 13, 14, 15 Oct.
    assert add_working_days(D(2025, 9, 25), 10) == D(2025, 10, 15)


def test_zero_days_is_the_start_and_negative_days_are_refused():
    assert add_working_days(D(2025, 10, 1), 0) == D(2025, 10, 1)
    with pytest.raises(ValueError, match="days must not be negative"):
        add_working_days(D(2025, 10, 1), -1)


def test_spring_festival_2025():
    # 2025: 28 Jan - 4 Feb off, Sunday 26 Jan and Saturday 8 Feb make-up working days.
    assert add_working_days(D(2025, 1, 24), 1) == D(2025, 1, 26)
    assert add_working_days(D(2025, 1, 27), 1) == D(2025, 2, 5)
    assert add_working_days(D(2025, 2, 7), 1) == D(2025, 2, 8)


def test_many_working_days_in_one_call(django_assert_num_queries):
    # Two queries whatever the span: years, then exception days.
    with django_assert_num_queries(2):
        end = add_working_days(D(2025, 1, 1), 60)
    day, counted = D(2025, 1, 1), 0
    while counted < 60:
        day += datetime.timedelta(days=1)
        counted += is_working_day(day)
    assert end == day


# --- a year with no calendar data ---------------------------------------------------------------


def test_year_without_data_falls_back_to_monday_to_friday_with_a_warning(caplog):
    assert not CalendarYear.objects.filter(year=2031).exists()
    caplog.set_level(logging.WARNING, logger=LOGGER)
    # 1 October 2031 is a Wednesday: without a schedule it is an ordinary working day.
    assert add_working_days(D(2031, 9, 30), 1) == D(2031, 10, 1)
    assert add_working_days(D(2031, 10, 3), 1) == D(2031, 10, 6)  # Friday + 1: Monday
    assert (
        warnings(caplog)
        == [
            "No holiday schedule for 2031: counting Monday to Friday as working days. "
            "Add the official schedule in the admin (holiday calendar years).",
        ]
        * 2
    )


def test_warning_names_only_the_unknown_year_once(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    # From a known year (2026) into an unknown one (2027), over many days of 2027.
    assert add_working_days(D(2026, 12, 30), 10) == D(2027, 1, 13)
    messages = warnings(caplog)
    assert len(messages) == 1
    assert messages[0].startswith("No holiday schedule for 2027:")


def test_is_working_day_without_data_is_monday_to_friday_with_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert is_working_day(D(2031, 10, 1)) is True  # a Wednesday
    assert is_working_day(D(2031, 10, 4)) is False  # a Saturday
    messages = warnings(caplog)
    assert len(messages) == 2
    assert all(m.startswith("No holiday schedule for 2031:") for m in messages)


def test_is_working_day_in_a_known_year_does_not_warn(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert is_working_day(D(2025, 10, 13)) is True
    assert is_working_day(D(2025, 10, 12)) is False
    assert warnings(caplog) == []


# --- a supervisor enters next year's schedule ---------------------------------------------------


def test_manually_entered_year_is_honoured(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    year = CalendarYear.objects.create(year=2031, note="State Council notice")
    assert year.source == "manual"
    for day in range(1, 8):
        CalendarDay.objects.create(
            calendar_year=year, date=D(2031, 10, day), is_working_day=False, name="国庆节"
        )
    CalendarDay.objects.create(
        calendar_year=year, date=D(2031, 9, 28), is_working_day=True, name="国庆节"
    )  # a Sunday
    CalendarDay.objects.create(
        calendar_year=year, date=D(2031, 10, 11), is_working_day=True, name="国庆节"
    )  # a Saturday

    assert is_working_day(D(2031, 10, 1)) is False
    assert is_working_day(D(2031, 9, 28)) is True
    assert add_working_days(D(2031, 9, 26), 1) == D(2031, 9, 28)
    assert add_working_days(D(2031, 9, 30), 1) == D(2031, 10, 8)
    assert add_working_days(D(2031, 10, 10), 1) == D(2031, 10, 11)
    assert warnings(caplog) == []


def test_a_manual_change_to_a_seeded_year_is_honoured():
    # The State Council moves a day: the supervisor marks Friday 10 October 2025 as a holiday.
    CalendarDay.objects.create(
        calendar_year_id=2025, date=D(2025, 10, 10), is_working_day=False, name="调休"
    )
    assert is_working_day(D(2025, 10, 10)) is False
    assert add_working_days(D(2025, 9, 30), 2) == D(2025, 10, 11)
