"""City scale (STYLE.md habit 15): the auditor's lists of the personal-data logs, their posted
search, the person's copy and a retention batch read no big table by a sequential scan (with
`SET enable_seqscan = off`, a scan that remains is one no index can avoid)."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.choices import StaffRole
from applicants.services import applicant_update
from privacy.choices import RetentionRule
from privacy.retention import due_people
from tests.admin.test_enrol import found_at_the_counter
from tests.admin.test_scale import sequential_scans
from tests.conftest import staff_login
from tests.factories import ApplicantFactory
from tests.security.test_roles import member

pytestmark = pytest.mark.django_db
BIG = {
    "applicants_applicant",
    "cards_card",
    "cards_cardtransition",
    "privacy_personchange",
    "privacy_personaldataaccess",
}


def scans(client, url, data=None) -> set[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code in (200, 302), url
    return sequential_scans([q["sql"] for q in captured.captured_queries if q["sql"]])


@pytest.fixture(autouse=True)
def _the_logs_are_big_tables(monkeypatch):
    monkeypatch.setattr("tests.admin.test_scale.BIG_TABLES", tuple(BIG))


def test_the_log_pages_read_by_their_indexes(clients, world):
    people = ApplicantFactory.create_batch(5)
    for person in people:
        applicant_update(applicant=person, actor=world.clerk, phone="13900000002")
        found_at_the_counter(clients.clerk, person)
    auditor = staff_login(Client(), member(StaffRole.AUDITOR))
    assert scans(auditor, "/admin/privacy/personchange/") == set()
    assert scans(auditor, "/admin/privacy/personaldataaccess/") == set()
    auditor.post("/admin/privacy/personchange/", {"posted_q": people[2].id_number})
    assert scans(auditor, "/admin/privacy/personchange/") == set()
    assert scans(clients.clerk, f"/admin/applicants/applicant/{people[0].pk}/copy/") == set()


def test_a_retention_batch_reads_by_indexes():
    ApplicantFactory.create_batch(3)
    now = timezone.now() + datetime.timedelta(days=20 * 366)
    for rule in RetentionRule.values:
        query = due_people(rule, now).filter(pk__gt=0).order_by("pk").values("pk")[:1000]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            rendered = cursor.mogrify(sql, params)
        assert sequential_scans([rendered]) == set(), rule
