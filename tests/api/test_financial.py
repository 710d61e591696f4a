"""The bank API of a card's functions (issue #17): financial function and fee payment; the error
shape, idempotency and another bank's card (404)."""

import json
import uuid

import pytest
from django.test import Client

from cards import services
from cards.choices import CardStatus, FeeStatus, FinancialStatus, ReplacementReason
from cards.models import Card, CardFee
from tests.api.conftest import API, error_of

S = CardStatus
F = FinancialStatus


@pytest.fixture
def third_gen(settings):
    settings.RULE_SET = "shanghai-3rd-gen"


def test_activate_freeze_unfreeze_through_the_api(third_gen, api, card_in):
    card = card_in(S.ISSUED)
    base = f"/cards/{card.public_id}/financial"
    response = api.post(f"{base}/activate", {"reference": "OUTLET-7"})
    assert response.status_code == 200, response.content
    assert response.json()["financial_status"] == F.ACTIVE
    assert api.post(f"{base}/freeze").json()["financial_status"] == F.FROZEN
    assert api.post(f"{base}/unfreeze").json()["financial_status"] == F.ACTIVE
    assert api.post(f"{base}/report-lost").json()["financial_status"] == F.LOST
    events = api.get("/events").json()["results"]
    financial = [e for e in events if e["event"] == "card.financial_status_changed"]
    assert [(e["from"], e["to"]) for e in financial] == [
        (F.NOT_ACTIVATED, F.ACTIVE),
        (F.ACTIVE, F.FROZEN),
        (F.FROZEN, F.ACTIVE),
        (F.ACTIVE, F.LOST),
    ]


def test_the_same_key_does_not_act_twice(third_gen, api, card_in):
    card = card_in(S.ISSUED)
    url = f"/cards/{card.public_id}/financial/activate"
    first = api.post(url, {}, key="k-activate-1")
    again = api.post(url, {}, key="k-activate-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert card.function_events.count() == 1


def test_refusals_in_the_one_error_shape(third_gen, api, card_in):
    card = card_in(S.ISSUED)
    response = api.post(f"/cards/{card.public_id}/financial/freeze")
    assert response.status_code == 409
    assert error_of(response)["code"] == "financial_change_not_allowed"
    response = api.post(f"/cards/{card.public_id}/financial/activate", {"reference": 7})
    assert response.status_code == 422
    assert "reference" in error_of(response)["details"]


def test_seed_2019_answers_not_applicable(api, card_in):
    card = card_in(S.ISSUED)
    response = api.post(f"/cards/{card.public_id}/financial/activate")
    assert response.status_code == 409
    assert error_of(response)["code"] == "not_applicable"
    assert api.get(f"/cards/{card.public_id}").json()["financial_status"] is None


def test_another_banks_card_is_not_found(third_gen, other_api, card_in):
    card = card_in(S.ISSUED)
    for path in ("financial/activate", "financial/freeze", "fee/paid"):
        response = other_api.post(f"/cards/{card.public_id}/{path}", {"payment_reference": "X"})
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert Card.objects.get(pk=card.pk).financial_status == F.NOT_ACTIVATED


def replaced(world, card):
    return services.card_replace(
        card=card,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=card.applicant.id_number,
        card_presented=True,
    )


def test_the_bank_records_the_fee_paid(third_gen, world, api, card_in):
    new = replaced(world, card_in(S.ISSUED))
    body = api.get(f"/cards/{new.public_id}").json()
    assert body["fee"]["amount_fen"] == 2000 and body["fee"]["status"] == FeeStatus.DUE
    assert body["fee"]["currency"] == "CNY"
    response = api.post(f"/cards/{new.public_id}/fee/paid", {"payment_reference": "PAY-42"})
    assert response.status_code == 200, response.content
    assert response.json()["fee"]["status"] == FeeStatus.PAID
    assert response.json()["fee"]["payment_reference"] == "PAY-42"
    again = api.post(f"/cards/{new.public_id}/fee/paid", {"payment_reference": "PAY-43"})
    assert again.status_code == 409 and error_of(again)["code"] == "fee_not_due"
    missing = api.post(f"/cards/{new.public_id}/fee/paid", {})
    assert missing.status_code == 422 and "payment_reference" in error_of(missing)["details"]
    assert CardFee.objects.get(card=new).payment_reference == "PAY-42"


def test_a_card_without_a_fee(api, card_in):
    card = card_in(S.ISSUED)
    response = api.post(f"/cards/{card.public_id}/fee/paid", {"payment_reference": "PAY-1"})
    assert response.status_code == 409 and error_of(response)["code"] == "no_fee"


def test_the_card_shows_its_functions_and_the_social_security_number(
    third_gen, world, api, card_in
):
    card = card_in(S.ISSUED)
    body = api.get(f"/cards/{card.public_id}").json()
    assert body["financial_status"] == F.NOT_ACTIVATED
    assert body["electronic_card_status"] == "active"
    assert body["fee"] is None
    assert body["holder"]["social_security_number"] == card.applicant.id_number
    world.bank.api_full_id_number = False
    world.bank.save()
    body = api.get(f"/cards/{card.public_id}").json()
    assert body["holder"]["social_security_number"] == body["holder"]["id_number"]
    assert body["holder"]["social_security_number"] != card.applicant.id_number


def test_staff_of_the_cards_bank_cannot_record_a_fee_paid_through_the_api(
    third_gen, world, api, card_in
):
    """The fee-paid endpoint answers only a bank's key: the card's bank's outlet clerk, logged in
    to the admin, is refused and the fee stays due."""
    new = replaced(world, card_in(S.ISSUED))
    staff = Client()
    staff.force_login(world.outlet_clerk.user)
    response = staff.post(
        f"{API}/cards/{new.public_id}/fee/paid",
        data=json.dumps({"payment_reference": "PAY-1"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 401, response.content
    assert error_of(response)["code"] == "not_authenticated"
    assert CardFee.objects.get(card=new).status == FeeStatus.DUE
