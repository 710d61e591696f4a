"""The clerk's transition forms ask for the proof of identity each act needs, and name the field
and the rule when it is missing (cards/counter/forms.py)."""

from __future__ import annotations

import re

import pytest

from cards import services
from cards.choices import CardStatus
from cards.models import Card
from tests.factories import resident_id

S = CardStatus
pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def written_lost(world, card_in):
    card = card_in(S.ISSUED)
    return services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )


def test_lifting_a_report_at_the_counter_asks_for_the_document_and_the_card(clients, written_lost):
    url = f"/admin/cards/card/{written_lost.pk}/do/withdraw_loss_report/"
    page = text(clients.clerk.get(url))
    assert "Holder&#x27;s document number, as presented" in page
    assert "The card itself was shown" in page and "Agent&#x27;s name" in page

    missing = text(clients.clerk.post(url, {}))
    assert "This field is required." in missing  # the holder's document number
    no_card = text(clients.clerk.post(url, {"id_number": written_lost.applicant.id_number}))
    assert "The card itself is required" in no_card
    assert Card.objects.get(pk=written_lost.pk).status == S.WRITTEN_LOST

    clients.clerk.post(url, {"id_number": written_lost.applicant.id_number, "card_presented": "on"})
    assert Card.objects.get(pk=written_lost.pk).status == S.ISSUED


def test_an_agent_lifts_a_report_at_the_counter(clients, written_lost):
    url = f"/admin/cards/card/{written_lost.pk}/do/withdraw_loss_report/"
    clients.clerk.post(
        url,
        {
            "id_number": written_lost.applicant.id_number,
            "agent_name": "李四",
            "agent_id_type": "resident_id",
            "agent_id_number": resident_id(31),
        },
    )
    card = Card.objects.get(pk=written_lost.pk)
    assert card.status == S.ISSUED
    assert card.transitions.order_by("-id").first().data["identity"]["by"] == "agent"


def test_a_lost_card_replacement_does_not_ask_for_the_card(clients, written_lost):
    url = f"/admin/cards/card/{written_lost.pk}/do/replace/"
    page = text(clients.clerk.get(url))
    assert "Holder&#x27;s document number, as presented" in page
    assert "The old card was handed in" not in page
    wrong = text(clients.clerk.post(url, {"reason": "lost", "id_number": resident_id(32)}))
    assert "The identity document presented is not the card holder" in wrong
    clients.clerk.post(url, {"reason": "lost", "id_number": written_lost.applicant.id_number})
    assert Card.objects.get(pk=written_lost.pk).status == S.REPLACED


def test_a_damaged_card_replacement_asks_for_the_card(clients, card_in):
    card = card_in(S.ISSUED)
    url = f"/admin/cards/card/{card.pk}/do/replace/"
    no_card = text(
        clients.clerk.post(url, {"reason": "damaged", "id_number": card.applicant.id_number})
    )
    assert "The card itself is required" in no_card
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_a_written_report_offers_the_agents_social_security_card(clients, card_in):
    card = card_in(S.ISSUED)
    url = f"/admin/cards/card/{card.pk}/do/report_lost_in_writing/"
    page = text(clients.clerk.get(url))
    assert "Their own social security card" in page
    refused = text(
        clients.clerk.post(
            url,
            {
                "id_number": card.applicant.id_number,
                "agent_name": "李四",
                "agent_document": "social_security_card",
                "agent_id_type": "resident_id",
                "agent_id_number": resident_id(33),
            },
        )
    )
    assert "No issued social security card has this social security number" in refused
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_the_cards_history_shows_what_was_checked_masked(clients, written_lost):
    url = f"/admin/cards/card/{written_lost.pk}/do/withdraw_loss_report/"
    clients.clerk.post(
        url,
        {
            "id_number": written_lost.applicant.id_number,
            "agent_name": "李四",
            "agent_id_type": "resident_id",
            "agent_id_number": resident_id(34),
        },
    )
    page = text(clients.clerk.get(f"/admin/cards/card/{written_lost.pk}/change/"))
    assert "holder&#x27;s ID document seen" in page
    assert "agent 李*" in page
    assert resident_id(34) not in page


def test_a_new_persons_sex_and_birth_date_must_agree_with_the_id_number(world, clients):
    from applicants.models import Applicant

    number = "11010519491231002X"  # a woman born 31 December 1949
    clients.clerk.post("/admin/cards/card/counter/", {"q": number})  # the registration's search
    response = clients.clerk.post(
        "/admin/cards/card/counter/new-person/",
        {
            "name": "李四",
            "id_type": "resident_id",
            "id_number": number,
            "sex": "male",
            "birth_date": "1950-01-01",
            "nationality": "CHN",
            "shanghai_hukou": "on",
            "hukou_place": "上海市徐汇区",
        },
    )
    form = response.context["new_person_form"]
    assert set(form.errors) == {"sex", "birth_date"}
    assert "contradicts the identity document number" in text(response)
    assert not Applicant.objects.filter(id_number=number).exists()


def test_an_online_applications_checks_are_shown_in_the_cards_history(world, clients, person):
    import datetime

    from django.utils import timezone

    from cards.choices import CardType, Channel

    at = timezone.now() - datetime.timedelta(minutes=10)
    card = services.card_submit(
        applicant=person,
        card_type=CardType.SOCIAL_SECURITY,
        actor=world.bank_actor,
        channel=Channel.BANK_APP,
        service_point=world.outlet,
        online_checks=[
            services.OnlineCheckEvidence("real_name", "NIA real-name", "RN-42", at, "passed"),
            services.OnlineCheckEvidence("real_person", "Tencent FaceID", "FX-7", at, "passed"),
        ],
    )
    page = text(clients.outlet_clerk.get(f"/admin/cards/card/{card.pk}/change/"))
    assert "Real-name verification by NIA real-name, ref. RN-42" in page
    assert "Real-person (liveness) verification by Tencent FaceID, ref. FX-7" in page
