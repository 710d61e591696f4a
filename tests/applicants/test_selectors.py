"""Reads of people and employments: the overdue-employer list (Social Insurance Law art. 58)."""

import datetime

import pytest
import time_machine

from applicants.choices import IdDocumentType
from applicants.selectors import (
    applicant_get,
    applicant_get_by_document,
    employment_overdue_list,
)
from tests.factories import ApplicantFactory, EmploymentFactory

pytestmark = pytest.mark.django_db

SHANGHAI_TZ = datetime.timezone(datetime.timedelta(hours=8))
START = datetime.date(2025, 3, 1)
DEADLINE = datetime.date(2025, 3, 31)  # start + 30 days


def unregistered(start: datetime.date = START, **kwargs):
    return EmploymentFactory(start_date=start, registered_on=None, **kwargs)


def test_on_the_deadline_day_it_is_not_overdue_the_day_after_it_is():
    employment = unregistered()
    assert employment.registration_deadline == DEADLINE
    assert list(employment_overdue_list(on=DEADLINE)) == []
    assert list(employment_overdue_list(on=DEADLINE + datetime.timedelta(days=1))) == [employment]


def test_overdue_employments_are_listed_oldest_deadline_first():
    newer = unregistered(datetime.date(2025, 3, 10))
    oldest = unregistered(datetime.date(2025, 1, 5))
    middle = unregistered(datetime.date(2025, 2, 20))
    not_yet = unregistered(datetime.date(2025, 4, 1))  # deadline 1 May
    overdue = list(employment_overdue_list(on=datetime.date(2025, 4, 30)))
    assert overdue == [oldest, middle, newer]
    assert not_yet not in overdue


def test_registered_employments_are_not_listed():
    EmploymentFactory(start_date=START, registered_on=datetime.date(2025, 4, 20))  # late, but done
    EmploymentFactory(start_date=START, registered_on=START)
    assert list(employment_overdue_list(on=datetime.date(2025, 5, 1))) == []


def test_an_employment_that_ended_unregistered_stays_on_the_list():
    # Art. 58: the employer had to register the employee within 30 days; the employment ending
    # later (or even before the deadline) does not undo the breach.
    ended_before_deadline = unregistered(end_date=datetime.date(2025, 3, 20))
    ended_after_deadline = unregistered(end_date=datetime.date(2025, 4, 30))
    assert list(employment_overdue_list(on=datetime.date(2025, 5, 1))) == [
        ended_before_deadline,
        ended_after_deadline,
    ]
    # ... until the employer registers it, late.
    ended_after_deadline.registered_on = datetime.date(2025, 5, 2)
    ended_after_deadline.save()
    assert list(employment_overdue_list(on=datetime.date(2025, 5, 3))) == [ended_before_deadline]


def test_a_fixed_term_employment_still_running_is_listed():
    # Most labour contracts have a fixed term: an end date in the future does not excuse the
    # employer from registering the employee.
    running = unregistered(end_date=datetime.date(2027, 2, 28))
    ends_today = unregistered(end_date=datetime.date(2025, 5, 1))
    assert list(employment_overdue_list(on=datetime.date(2025, 5, 1))) == [running, ends_today]


def test_overdue_list_defaults_to_today_in_shanghai():
    employment = unregistered()
    # 00:30 on 1 April in Shanghai is still 31 March in UTC.
    with time_machine.travel(
        datetime.datetime(2025, 3, 31, 23, 30, tzinfo=SHANGHAI_TZ), tick=False
    ):
        assert list(employment_overdue_list()) == []
    with time_machine.travel(datetime.datetime(2025, 4, 1, 0, 30, tzinfo=SHANGHAI_TZ), tick=False):
        assert list(employment_overdue_list()) == [employment]


def test_overdue_list_brings_employer_and_applicant_in_one_query(django_assert_num_queries):
    unregistered()
    unregistered()
    with django_assert_num_queries(1):
        rows = [
            (e.employer.name, e.applicant.name_masked)
            for e in employment_overdue_list(on=datetime.date(2025, 5, 1))
        ]
    assert len(rows) == 2


# --- applicants ---------------------------------------------------------------------------------


def test_applicant_found_by_number_as_typed():
    applicant = ApplicantFactory(id_number="11010519491231002X")
    ApplicantFactory()
    assert applicant_get_by_document(id_number=" 110105 19491231 002x") == applicant
    assert applicant_get_by_document(id_number="110105194912310021") is None


def test_applicant_get_by_document_type_and_number():
    applicant = ApplicantFactory(id_number="11010519491231002X")
    assert applicant_get(id_type=IdDocumentType.RESIDENT_ID, id_number="11010519491231002x") == (
        applicant
    )
    assert applicant_get(id_type=IdDocumentType.PASSPORT, id_number="11010519491231002X") is None
