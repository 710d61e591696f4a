"""The supervisors' per-employer roll-up of art. 58 (applicants.selectors.employer_overdue_rollup,
the admin page /admin/applicants/employer/overdue/): counts at the deadline's edges, bounded,
read from the partial indexes, and only the desk's people."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applicants.selectors import LATE_WINDOW_DAYS, employer_overdue_rollup
from cards.models import PointPerson, PointPersonReason
from tests.admin.conftest import clients, login  # noqa: F401 - fixtures
from tests.cards.conftest import world  # noqa: F401 - fixtures
from tests.factories import EmployerFactory, EmploymentFactory

pytestmark = pytest.mark.django_db

START = datetime.date(2025, 3, 1)
DEADLINE = datetime.date(2025, 3, 31)  # start + 30 days
DAY = datetime.timedelta(days=1)


def counts(on: datetime.date, **kwargs) -> list[tuple[str, int, int]]:
    return [
        (row.employer.uscc, row.unregistered, row.late)
        for row in employer_overdue_rollup(on=on, **kwargs)
    ]


def test_unregistered_counts_from_the_day_after_the_deadline():
    employer = EmployerFactory()
    EmploymentFactory(employer=employer, start_date=START, registered_on=None)
    assert counts(DEADLINE) == []
    assert counts(DEADLINE + DAY) == [(employer.uscc, 1, 0)]


def test_an_ended_unregistered_employment_still_counts():
    employer = EmployerFactory()
    EmploymentFactory(
        employer=employer, start_date=START, end_date=datetime.date(2025, 3, 10), registered_on=None
    )
    assert counts(datetime.date(2026, 1, 1)) == [(employer.uscc, 1, 0)]


def test_late_means_registered_after_the_deadline_and_within_the_window():
    employer = EmployerFactory()
    EmploymentFactory(employer=employer, start_date=START, registered_on=DEADLINE)  # on time
    late = EmploymentFactory(employer=employer, start_date=START, registered_on=DEADLINE + DAY)
    assert counts(DEADLINE + DAY) == [(employer.uscc, 0, 1)]
    assert counts(DEADLINE) == []  # registered "tomorrow": not yet known on the day
    last_day = late.registered_on + datetime.timedelta(days=LATE_WINDOW_DAYS)
    assert counts(last_day) == [(employer.uscc, 0, 1)]
    assert counts(last_day + DAY) == []


def test_most_unregistered_first_and_bounded():
    few, many, only_late = EmployerFactory(), EmployerFactory(), EmployerFactory()
    EmploymentFactory(employer=few, start_date=START, registered_on=None)
    EmploymentFactory.create_batch(3, employer=many, start_date=START, registered_on=None)
    EmploymentFactory(employer=many, start_date=START, registered_on=DEADLINE + DAY)
    EmploymentFactory.create_batch(
        2, employer=only_late, start_date=START, registered_on=START + 40 * DAY
    )
    on = datetime.date(2025, 6, 1)
    assert counts(on) == [(many.uscc, 3, 1), (few.uscc, 1, 0), (only_late.uscc, 0, 2)]
    assert counts(on, limit=2) == [(many.uscc, 3, 1), (few.uscc, 1, 0)]


def test_the_rollup_reads_the_partial_indexes_not_the_table():
    for _ in range(3):
        EmploymentFactory(start_date=START, registered_on=None)
        EmploymentFactory(start_date=START, registered_on=START)
    with CaptureQueriesContext(connection) as captured:
        employer_overdue_rollup(on=datetime.date(2025, 6, 1))
    assert len(captured.captured_queries) == 2  # the counts, then the employers shown
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            cursor.execute("EXPLAIN " + captured.captured_queries[0]["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("RESET enable_seqscan")
    assert not re.search(r"Seq Scan on applicants_employment", plan), plan
    assert "employment_unregistered_idx" in plan and "employment_late_idx" in plan, plan


def test_page_for_a_point_supervisor_counts_only_the_points_people(world, clients):  # noqa: F811
    ours, theirs = EmployerFactory(name="Ours Ltd"), EmployerFactory(name="Theirs Ltd")
    here = EmploymentFactory(employer=ours, start_date=START, registered_on=None)
    EmploymentFactory(employer=theirs, start_date=START, registered_on=None)
    PointPerson.objects.create(
        service_point=world.community, applicant=here.applicant, reason=PointPersonReason.SEARCHED
    )
    with time_machine.travel(datetime.datetime(2025, 6, 1, 12, tzinfo=datetime.UTC), tick=False):
        response = clients.supervisor.get("/admin/applicants/employer/overdue/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Ours Ltd" in body and ours.uscc in body
    assert "Theirs Ltd" not in body


def test_page_is_refused_to_a_clerk_and_the_hotline(world, clients):  # noqa: F811
    assert clients.clerk.get("/admin/applicants/employer/overdue/").status_code == 403
    assert clients.hotline.get("/admin/applicants/employer/overdue/").status_code == 403


def test_the_employment_lists_overdue_column_agrees_with_the_list():
    from django.contrib import admin

    from applicants.models import Employment

    column = admin.site._registry[Employment].is_overdue
    ended = EmploymentFactory(start_date=START, end_date=START + DAY, registered_on=None)
    with time_machine.travel(datetime.datetime(2025, 3, 31, 12, tzinfo=datetime.UTC), tick=False):
        assert column(ended) is False  # the deadline day itself
    with time_machine.travel(datetime.datetime(2025, 4, 1, 12, tzinfo=datetime.UTC), tick=False):
        assert column(ended) is True
