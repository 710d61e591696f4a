"""The read log of full personal data (issue #15): a bank's card detail with the full ID number,
an exact-ID counter search, a reveal in the admin and the person's copy each write one
privacy.PersonalDataAccess row: who, whose, when, why, through which channel."""

import pytest
from django.db import connection

from cards.choices import CardStatus as S
from privacy.choices import AccessChannel, AccessPurpose
from privacy.models import PersonalDataAccess
from tests.factories import ApplicantFactory

pytestmark = pytest.mark.django_db


def test_a_banks_card_detail_with_the_full_id_is_logged(api, world, card_in):
    card = card_in(S.VERIFIED)
    assert api.get(f"/cards/{card.public_id}").json()["holder"]["id_number"] == (
        card.applicant.id_number
    )
    (row,) = PersonalDataAccess.objects.all()
    assert (row.applicant_id, row.card_id, row.bank_id, row.user_id) == (
        card.applicant_id,
        card.pk,
        world.bank.pk,
        None,
    )
    assert (row.purpose, row.channel) == (AccessPurpose.API_CARD_DETAIL, AccessChannel.API)


class Statements:
    """Every statement the connection runs (the request's own reset of connection.queries makes
    CaptureQueriesContext miss some across a test client's request)."""

    def __init__(self):
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


def test_the_detail_pays_one_insert_for_its_log(api, world, card_in):
    card = card_in(S.VERIFIED)
    api.get(f"/cards/{card.public_id}")  # the key's first use (its caches) out of the count
    logged, unlogged = Statements(), Statements()
    with connection.execute_wrapper(logged):
        api.get(f"/cards/{card.public_id}")
    world.bank.api_full_id_number = False
    world.bank.save(update_fields=["api_full_id_number"])
    api.get(f"/cards/{card.public_id}")
    with connection.execute_wrapper(unlogged):
        masked = api.get(f"/cards/{card.public_id}").json()["holder"]["id_number"]
    assert masked != card.applicant.id_number
    inserts = [sql for sql in logged.sql if "privacy_personaldataaccess" in sql]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT")
    assert len(logged.sql) == len(unlogged.sql) + 1
    assert PersonalDataAccess.objects.count() == 2  # a masked answer is not a full-ID read


def test_a_list_of_cards_is_not_a_full_id_read(api, card_in):
    card_in(S.VERIFIED)
    assert api.get("/cards").status_code == 200
    assert not PersonalDataAccess.objects.exists()


def test_an_exact_id_counter_search_is_logged(clients, world):
    person = ApplicantFactory()
    assert clients.clerk.post(
        "/admin/cards/card/counter/", {"q": person.id_number}
    ).status_code in (
        200,
        302,
    )
    (row,) = PersonalDataAccess.objects.all()
    assert (row.applicant_id, row.user_id, row.service_point_id) == (
        person.pk,
        world.clerk.user.pk,
        world.community.pk,
    )
    assert (row.purpose, row.channel) == (AccessPurpose.COUNTER_SEARCH, AccessChannel.COUNTER)


def test_a_search_that_finds_nobody_logs_nothing(clients):
    clients.clerk.post("/admin/cards/card/counter/", {"q": "11010519491231002X"})
    assert not PersonalDataAccess.objects.exists()


def test_a_reveal_of_the_number_is_logged_in_the_one_table(clients, world, card_in, person):
    card = card_in(S.VERIFIED)
    clients.clerk.post(f"/admin/cards/card/{card.pk}/reveal/")
    (row,) = PersonalDataAccess.objects.all()
    assert (row.purpose, row.field, row.card_id, row.user_id) == (
        AccessPurpose.REVEAL,
        "id_number",
        card.pk,
        world.clerk.user.pk,
    )
