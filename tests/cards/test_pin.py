"""PIN services at the counter (issue #17): reset and unlock with the holder's document and the
card, recorded on the card's history; no PIN is ever taken or stored."""

import datetime
import re

import pytest
from django.utils import timezone

from cards import services
from cards.choices import CardStatus, FunctionAction
from cards.models import Card, CardFunctionEvent
from common.errors import ApplicationError
from tests.admin.conftest import clients, login  # noqa: F401 - fixtures
from tests.factories import resident_id

S = CardStatus
A = FunctionAction


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_pin_reset_needs_the_holders_document_and_the_card(world, card_in):
    card = card_in(S.ISSUED)
    with pytest.raises(ApplicationError) as refused:
        services.card_pin_service(
            card=card, actor=world.clerk, action=A.PIN_RESET, id_number=resident_id(40)
        )
    assert "id_number" in refused.value.details
    with pytest.raises(ApplicationError) as refused:
        services.card_pin_service(
            card=card, actor=world.clerk, action=A.PIN_RESET, id_number=card.applicant.id_number
        )
    assert "card_presented" in refused.value.details
    assert not CardFunctionEvent.objects.filter(card=card).exists()
    services.card_pin_service(
        card=card,
        actor=world.clerk,
        action=A.PIN_RESET,
        id_number=card.applicant.id_number,
        card_presented=True,
    )
    row = CardFunctionEvent.objects.get(card=card)
    assert row.action == A.PIN_RESET and row.service_point == world.community
    assert row.data["identity"]["card_presented"] is True and row.data["pin_tries"] == 6
    assert "pin" not in {key.lower() for key in row.data}  # nothing of a PIN is kept
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_a_refused_pin_service_keeps_the_due_expiry_it_found(world, card_in):
    """The written report's deadline passed before the sweep ran: the card is cancelled by the
    act that finds it, and stays cancelled although the PIN service is then refused."""
    card = card_in(S.WRITTEN_LOST)
    Card.objects.filter(pk=card.pk).update(
        written_report_expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    with pytest.raises(ApplicationError):
        services.card_pin_service(
            card=card,
            actor=world.clerk,
            action=A.PIN_UNLOCK,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert Card.objects.get(pk=card.pk).status == S.CANCELLED


@pytest.mark.parametrize("state", [S.READY_FOR_COLLECTION, S.WRITTEN_LOST])
def test_only_an_issued_card(world, card_in, state):
    card = card_in(state)
    with pytest.raises(ApplicationError) as refused:
        services.card_pin_service(
            card=card,
            actor=world.clerk,
            action=A.PIN_UNLOCK,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert refused.value.status == 409


def test_the_hotline_and_banks_do_not_reset_pins(world, card_in):
    card = card_in(S.ISSUED)
    for actor in (world.hotline_operator, world.bank_actor):
        with pytest.raises(ApplicationError) as refused:
            services.card_pin_service(
                card=card,
                actor=actor,
                action=A.PIN_RESET,
                id_number=card.applicant.id_number,
                card_presented=True,
            )
        assert refused.value.code == "permission_denied"


def test_unlock_at_the_counter_shows_on_the_card_history(world, clients, card_in):  # noqa: F811
    card = card_in(S.ISSUED)
    page = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/change/"))
    url = f"/admin/cards/cardfunctionevent/pin/{card.pk}/{A.PIN_UNLOCK}/"
    assert url in page
    form = text(clients.clerk.get(url))
    assert "The card itself" in form and "PIN" in form
    refused = text(clients.clerk.post(url, {"id_number": card.applicant.id_number}))
    assert "The card itself is required" in refused
    response = clients.clerk.post(
        url, {"id_number": card.applicant.id_number, "card_presented": "on"}
    )
    assert response.status_code == 302
    page = text(clients.clerk.get(f"/admin/cards/card/{card.pk}/change/"))
    assert "PIN unlocked" in page
    assert (
        clients.clerk.get(f"/admin/cards/cardfunctionevent/pin/{card.pk}/other/").status_code == 404
    )
