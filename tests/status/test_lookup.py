"""cards/public/lookup.py refuses every pair that is not the holder's own, on both of its paths: the
prepared statement (PostgreSQL) and the ORM read that `make run` uses on SQLite (reached here by
making the connection say it is not PostgreSQL; the ORM query itself runs on PostgreSQL).

The tests comparing the two paths (test_answers.py) use matching pairs only; these use every kind
of mismatch: a receipt number with someone else's ID number, or with a valid ID number nobody has,
or the ID number with someone else's receipt number.
"""

from __future__ import annotations

import pytest
from django.db import connection

from cards.choices import CardStatus
from cards.public.lookup import card_public_get
from common.masking import mask_name
from tests.cards.conftest import bring_to, eligible_person, submit
from tests.factories import resident_id
from tests.status.conftest import body_without_csrf, lookup

S = CardStatus
pytestmark = pytest.mark.django_db


@pytest.fixture(params=["prepared", "orm"])
def path(request, monkeypatch):
    if request.param == "orm":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


@pytest.fixture
def two_cards(world):
    alice, bob = eligible_person(), eligible_person()
    return (
        bring_to(world, submit(world, alice), S.ISSUED),
        bring_to(world, submit(world, bob), S.VERIFIED),
    )


def nobodys_id_number() -> str:
    return resident_id(987_654)


def test_the_holders_own_pair_finds_the_card(path, two_cards):
    for card in two_cards:
        found = card_public_get(
            id_number=card.applicant.id_number, receipt_number=card.receipt_number
        )
        assert found is not None and found.card.pk == card.pk
        assert found.holder_name == card.applicant.name


def test_a_receipt_number_with_anyone_elses_id_number_finds_nothing(path, two_cards):
    alice, bob = two_cards
    for id_number in (bob.applicant.id_number, nobodys_id_number()):
        assert card_public_get(id_number=id_number, receipt_number=alice.receipt_number) is None
    assert (
        card_public_get(id_number=alice.applicant.id_number, receipt_number=bob.receipt_number)
        is None
    )


def test_a_malformed_id_number_finds_nothing(path, two_cards):
    alice, _ = two_cards
    for id_number in ("", "123", alice.applicant.id_number[:-1]):
        assert card_public_get(id_number=id_number, receipt_number=alice.receipt_number) is None


def test_the_page_for_someone_elses_id_number_is_the_page_for_nobody(path, client, two_cards):
    alice, bob = two_cards
    own = lookup(client, alice.applicant.id_number, alice.receipt_number, language="en")
    other = lookup(client, bob.applicant.id_number, alice.receipt_number, language="en")
    nobody = lookup(client, nobodys_id_number(), alice.receipt_number, language="en")
    assert own.status_code == other.status_code == nobody.status_code == 200
    assert mask_name(alice.applicant.name).encode() in own.content
    assert body_without_csrf(other) == body_without_csrf(nobody)
    assert body_without_csrf(other) != body_without_csrf(own)
