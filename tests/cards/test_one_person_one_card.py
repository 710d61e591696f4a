"""One person, one card (issue #17): under shanghai-3rd-gen, handing a social security card over
replaces the holder's live medical insurance card in the same transaction, logged and noticed."""

import pytest

from cards import services
from cards.choices import CardStatus, CardType, TransitionName
from cards.models import Card, CardCenterNotice, CardTransition
from common.errors import ApplicationError
from tests.api.conftest import api, bank_key  # noqa: F401 - fixtures
from tests.cards.conftest import bring_to, card_number, submit

S = CardStatus
T = TransitionName


def medical_card(world, person, state=S.ISSUED) -> Card:
    card = submit(world, person, CardType.MEDICAL_INSURANCE)
    clerk = world.street_medical_clerk
    if state == S.APPLIED:
        return card
    card = services.card_verify(card=card, actor=clerk)
    card = services.card_mark_ready(card=card, actor=clerk, card_number=card_number())
    if state == S.READY_FOR_COLLECTION:
        return card
    return services.card_hand_over(
        card=card, actor=clerk, id_number=person.id_number, receipt_number=card.receipt_number
    )


def test_seed_2019_keeps_both_cards(world, person):
    medical = medical_card(world, person)
    bring_to(world, submit(world, person), S.ISSUED)
    assert Card.objects.get(pk=medical.pk).status == S.ISSUED


@pytest.mark.parametrize("state", [S.ISSUED, S.APPLIED, S.READY_FOR_COLLECTION])
def test_the_social_security_card_replaces_the_medical_card(settings, world, person, state):
    settings.RULE_SET = "shanghai-3rd-gen"
    medical = medical_card(world, person, state)
    social = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    assert Card.objects.get(pk=medical.pk).status == state  # not before the hand-over
    social = services.card_hand_over(
        card=social,
        actor=world.bank_actor,
        id_number=person.id_number,
        receipt_number=social.receipt_number,
    )
    medical = Card.objects.get(pk=medical.pk)
    assert medical.status == S.REPLACED and medical.closed_at == social.issued_at
    row = CardTransition.objects.filter(card=medical).latest("id")
    assert (row.name, row.from_status, row.to_status) == (T.REPLACE, state, S.REPLACED)
    assert row.data == {"one_person_one_card": True, "social_security_card": str(social.public_id)}
    assert row.bank == world.bank  # who handed the social security card over
    if state == S.ISSUED:  # the card center hears that the medical card is no longer usable
        notice = CardCenterNotice.objects.filter(card=medical).latest("id")
        assert (notice.kind, notice.to_status) == (T.REPLACE, S.REPLACED)


def test_a_refused_hand_over_replaces_nothing(settings, world, person):
    settings.RULE_SET = "shanghai-3rd-gen"
    medical = medical_card(world, person)
    social = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    with pytest.raises(ApplicationError):  # the wrong receipt
        services.card_hand_over(
            card=social, actor=world.bank_actor, id_number=person.id_number, receipt_number="X"
        )
    assert Card.objects.get(pk=medical.pk).status == S.ISSUED


def test_the_partner_batch_applies_it_too(settings, world, person, api):  # noqa: F811
    settings.RULE_SET = "shanghai-3rd-gen"
    medical = medical_card(world, person)
    social = bring_to(world, submit(world, person), S.READY_FOR_COLLECTION)
    item = {
        "card": str(social.public_id),
        "id_number": person.id_number,
        "receipt_number": social.receipt_number,
    }
    response = api.post("/cards/hand-over", {"items": [item]})
    assert response.status_code == 200 and response.json()["succeeded"] == 1, response.content
    assert Card.objects.get(pk=medical.pk).status == S.REPLACED
