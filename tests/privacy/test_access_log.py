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


@pytest.mark.django_db(transaction=True)
def test_the_former_reveal_log_went_into_the_one_read_log_without_duplicates(world, card_in):
    """cards 0017: the rows of cards.IdNumberReveal are copied into PersonalDataAccess (purpose
    reveal, field id_number), except those the read log already held beside them."""
    import datetime
    import importlib
    import types

    from common.db_roles import db_roles
    from tests.security.test_db_roles import owner_connection

    roles = db_roles(connection.settings_dict["NAME"].removeprefix("test_"))
    card = card_in(S.VERIFIED)
    at = datetime.datetime(2026, 5, 1, 9, 0, tzinfo=datetime.UTC)
    # Already in the read log (written beside the reveal since the read log exists).
    PersonalDataAccess.objects.create(
        at=at + datetime.timedelta(milliseconds=3),
        applicant_id=card.applicant_id,
        purpose=AccessPurpose.REVEAL,
        channel="admin",
        user_id=world.clerk.user.pk,
        card_id=card.pk,
        field="id_number",
    )
    with owner_connection(roles) as owner:  # the former table, as migration 0004 made it
        owner.execute(
            "CREATE TABLE cards_idnumberreveal (id bigserial PRIMARY KEY, at timestamptz, "
            "applicant_id bigint, card_id bigint, service_point_id bigint, user_id integer)"
        )
        owner.execute(
            "INSERT INTO cards_idnumberreveal (at, applicant_id, card_id, service_point_id, "
            "user_id) VALUES (%s, %s, %s, %s, %s), (%s, %s, NULL, %s, %s)",
            [
                at,
                card.applicant_id,
                card.pk,
                world.community.pk,
                world.clerk.user.pk,
                at - datetime.timedelta(days=400),
                card.applicant_id,
                world.community.pk,
                world.clerk.user.pk,
            ],
        )
    try:
        migration = importlib.import_module("cards.migrations.0018_privacy_log_erasure")
        migration.copy_reveals(None, types.SimpleNamespace(connection=connection))
    finally:
        with owner_connection(roles) as owner:
            owner.execute("DROP TABLE cards_idnumberreveal")
    rows = list(
        PersonalDataAccess.objects.order_by("at").values_list(
            "at", "purpose", "field", "channel", "card_id", "service_point_id", "user_id"
        )
    )
    assert rows == [
        (
            at - datetime.timedelta(days=400),
            "reveal",
            "id_number",
            "admin",
            None,
            world.community.pk,
            world.clerk.user.pk,
        ),
        (
            at + datetime.timedelta(milliseconds=3),
            "reveal",
            "id_number",
            "admin",
            card.pk,
            None,
            world.clerk.user.pk,
        ),
    ]
