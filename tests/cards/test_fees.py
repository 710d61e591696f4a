"""Replacement fees (issue #17): from the rule set, due on the replacement card, paid by the bank
or waived by a supervisor at the counter, printed on the receipt."""

import re

import pytest

from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, FeeStatus, FunctionAction, OutboxEventKind, ReplacementReason
from cards.models import CardFee, CardFunctionEvent, OutboxEvent
from common.errors import ApplicationError
from tests.admin.conftest import clients, login  # noqa: F401 - fixtures

S = CardStatus


@pytest.fixture
def third_gen(settings):
    settings.RULE_SET = "shanghai-3rd-gen"


def replace_damaged(world, card):
    return services.card_replace(
        card=card,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=card.applicant.id_number,
        card_presented=True,
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_seed_2019_replacements_are_free(world, card_in):
    new = replace_damaged(world, card_in(S.ISSUED))
    assert not CardFee.objects.filter(card=new).exists()


def test_a_replacement_fee_is_due_from_the_rule_set(third_gen, world, card_in):
    old = card_in(S.ISSUED)
    assert not CardFee.objects.filter(card=old).exists()  # first issue is free
    new = replace_damaged(world, old)
    fee = CardFee.objects.get(card=new)
    assert (fee.amount_fen, fee.currency, fee.status) == (2000, "CNY", FeeStatus.DUE)
    row = CardFunctionEvent.objects.get(card=new)
    assert row.action == FunctionAction.FEE_DUE and row.data["amount_fen"] == 2000
    event = OutboxEvent.objects.filter(card=new, kind=OutboxEventKind.FEE_STATUS_CHANGED).get()
    assert event.payload["to"] == FeeStatus.DUE


def test_a_lost_card_replacement_is_charged_too(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    new = services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number, request_replacement=True
    )
    assert CardFee.objects.get(card=new).status == FeeStatus.DUE


def test_only_a_supervisor_waives_a_fee(third_gen, world, card_in):
    new = replace_damaged(world, card_in(S.ISSUED))
    with pytest.raises(ApplicationError) as refused:
        services.card_fee_waive(card=new, actor=world.clerk, reason="Hardship.")
    assert refused.value.code == "permission_denied"
    with pytest.raises(ApplicationError) as refused:
        services.card_fee_waive(card=new, actor=world.supervisor, reason="  ")
    assert refused.value.details == {"reason": [refused.value.message]}
    services.card_fee_waive(card=new, actor=world.supervisor, reason="Hardship.")
    fee = CardFee.objects.get(card=new)
    assert (fee.status, fee.waiver_reason, fee.waived_by) == (
        FeeStatus.WAIVED,
        "Hardship.",
        world.supervisor.user,
    )
    assert fee.waived_at is not None
    with pytest.raises(ApplicationError) as refused:
        services.card_fee_pay(card=new, actor=world.bank_actor, payment_reference="PAY-1")
    assert refused.value.code == "fee_not_due"
    assert refused.value.message == f"The fee is not due: it is {FeeStatus.WAIVED.label}."


def test_the_supervisor_waives_at_the_counter_and_the_receipt_shows_it(
    third_gen,
    world,
    clients,  # noqa: F811 - the fixture imported above
    card_in,
):
    new = replace_damaged(world, card_in(S.ISSUED))
    page = text(clients.supervisor.get(f"/admin/cards/card/{new.pk}/change/"))
    assert "Replacement fee" in page or "replacement fee" in page
    assert "¥20.00 · Due" in page
    url = f"/admin/cards/cardfunctionevent/waive-fee/{new.pk}/"
    assert url in page
    assert clients.clerk.get(url).status_code == 403  # a clerk sees no button and may not
    assert url not in text(clients.clerk.get(f"/admin/cards/card/{new.pk}/change/"))
    refused = text(clients.supervisor.post(url, {"reason": ""}))
    assert "This field is required." in refused
    response = clients.supervisor.post(url, {"reason": "Low income certificate"})
    assert response.status_code == 302
    page = text(clients.supervisor.get(f"/admin/cards/card/{new.pk}/change/"))
    assert "Waived · Low income certificate" in page
    receipt = text(clients.clerk.get(f"/admin/cards/card/{new.pk}/receipt/"))
    assert "¥20.00 CNY · Waived" in receipt


def test_the_receipt_prints_a_due_fee(third_gen, world, clients, card_in):  # noqa: F811
    new = replace_damaged(world, card_in(S.ISSUED))
    receipt = text(clients.clerk.get(f"/admin/cards/card/{new.pk}/receipt/"))
    assert "Replacement fee" in receipt and "¥20.00 CNY · Due" in receipt


def test_only_the_cards_bank_records_a_fee_paid_not_staff_carrying_that_bank(
    third_gen, world, card_in
):
    """The bank check of card_fee_pay from the side it keeps out: a clerk at the card's own
    bank's outlet carries that bank (Actor.for_user) but is not the bank; neither is the
    platform, the scheduler, nor another bank."""
    new = replace_damaged(world, card_in(S.ISSUED))
    assert world.outlet_clerk.bank == world.bank == new.bank
    for actor in (
        world.outlet_clerk,
        world.supervisor,
        Actor.for_platform(),
        world.system,
        world.other_bank_actor,
    ):
        with pytest.raises(ApplicationError) as refused:
            services.card_fee_pay(card=new, actor=actor, payment_reference="PAY-1")
        assert (refused.value.code, refused.value.status) == ("permission_denied", 403)
        assert refused.value.details == {"transition": "fee_paid"}
        assert refused.value.message == "You may not do this here, or not to this card."
    fee = CardFee.objects.get(card=new)
    assert (fee.status, fee.paid_at, fee.payment_reference) == (FeeStatus.DUE, None, "")
    assert not CardFunctionEvent.objects.filter(card=new, action=FunctionAction.FEE_PAID).exists()
    services.card_fee_pay(card=new, actor=world.bank_actor, payment_reference="PAY-1")
    assert CardFee.objects.get(card=new).status == FeeStatus.PAID
