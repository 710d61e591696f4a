"""The financial function (issue #17): its own state, changed only by the owning bank, logged and
emitted; absent under seed-2019."""

import pytest

from cards import services
from cards.choices import CardStatus, FinancialStatus, FunctionAction, OutboxEventKind
from cards.models import Card, CardFunctionEvent, OutboxEvent
from common.errors import ApplicationError

S = CardStatus
F = FinancialStatus
A = FunctionAction


@pytest.fixture
def third_gen(settings):
    settings.RULE_SET = "shanghai-3rd-gen"


def change(world, card, action, actor=None):
    return services.card_financial_change(
        card=card, actor=actor or world.bank_actor, action=action, reference="REF-1"
    )


def test_seed_2019_cards_have_no_financial_function(world, card_in):
    card = card_in(S.ISSUED)
    assert card.financial_status is None
    with pytest.raises(ApplicationError) as refused:
        change(world, card, A.FINANCIAL_ACTIVATE)
    assert refused.value.code == "not_applicable" and refused.value.status == 409
    assert not CardFunctionEvent.objects.filter(card=card).exists()


def test_a_third_generation_card_is_sealed_until_the_bank_activates_it(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    assert card.financial_status == F.NOT_ACTIVATED
    card = change(world, card, A.FINANCIAL_ACTIVATE)
    card.refresh_from_db()
    assert card.financial_status == F.ACTIVE
    row = CardFunctionEvent.objects.get(card=card)
    assert (row.action, row.from_value, row.to_value) == (
        A.FINANCIAL_ACTIVATE,
        F.NOT_ACTIVATED,
        F.ACTIVE,
    )
    assert row.bank == world.bank and row.data == {"reference": "REF-1"}
    event = OutboxEvent.objects.filter(card=card).latest("id")
    assert event.kind == OutboxEventKind.FINANCIAL_STATUS_CHANGED
    assert event.payload["transition"] == A.FINANCIAL_ACTIVATE
    assert (event.payload["from"], event.payload["to"]) == (F.NOT_ACTIVATED, F.ACTIVE)
    # The lifecycle is untouched: the social security function is a separate one.
    assert card.status == S.ISSUED


def test_freeze_unfreeze_and_loss(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    change(world, card, A.FINANCIAL_ACTIVATE)
    change(world, card, A.FINANCIAL_FREEZE)
    assert Card.objects.get(pk=card.pk).financial_status == F.FROZEN
    change(world, card, A.FINANCIAL_UNFREEZE)
    assert Card.objects.get(pk=card.pk).financial_status == F.ACTIVE
    change(world, card, A.FINANCIAL_REPORT_LOST)
    assert Card.objects.get(pk=card.pk).financial_status == F.LOST
    with pytest.raises(ApplicationError) as refused:
        change(world, card, A.FINANCIAL_UNFREEZE)
    assert refused.value.code == "financial_change_not_allowed"
    assert list(
        CardFunctionEvent.objects.filter(card=card).order_by("id").values_list("action", flat=True)
    ) == [A.FINANCIAL_ACTIVATE, A.FINANCIAL_FREEZE, A.FINANCIAL_UNFREEZE, A.FINANCIAL_REPORT_LOST]


@pytest.mark.parametrize(
    ("action", "status"),
    [(A.FINANCIAL_FREEZE, F.NOT_ACTIVATED), (A.FINANCIAL_UNFREEZE, F.NOT_ACTIVATED)],
)
def test_a_change_the_function_state_does_not_allow_changes_nothing(
    third_gen, world, card_in, action, status
):
    card = card_in(S.ISSUED)
    with pytest.raises(ApplicationError) as refused:
        change(world, card, action)
    assert refused.value.code == "financial_change_not_allowed" and refused.value.status == 409
    assert Card.objects.get(pk=card.pk).financial_status == status
    assert not CardFunctionEvent.objects.filter(card=card).exists()


def test_activation_needs_an_issued_card(third_gen, world, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    with pytest.raises(ApplicationError) as refused:
        change(world, card, A.FINANCIAL_ACTIVATE)
    assert refused.value.code == "financial_change_not_allowed"


def test_a_social_security_loss_report_leaves_the_financial_function_to_the_bank(
    third_gen, world, card_in
):
    card = card_in(S.ISSUED)
    change(world, card, A.FINANCIAL_ACTIVATE)
    card = services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )
    assert Card.objects.get(pk=card.pk).financial_status == F.ACTIVE
    change(world, card, A.FINANCIAL_FREEZE)  # the bank may still freeze it
    assert Card.objects.get(pk=card.pk).financial_status == F.FROZEN


def test_only_the_owning_bank_changes_it(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    for actor in (world.other_bank_actor, world.clerk, world.supervisor):
        with pytest.raises(ApplicationError) as refused:
            change(world, card, A.FINANCIAL_ACTIVATE, actor=actor)
        assert refused.value.code == "permission_denied" and refused.value.status == 403
        assert refused.value.message == "Only the card's own bank changes its financial function."
    assert Card.objects.get(pk=card.pk).financial_status == F.NOT_ACTIVATED


def test_a_medical_card_has_no_financial_function(third_gen, world, person):
    from cards.choices import CardType
    from tests.cards.conftest import submit

    card = submit(world, person, CardType.MEDICAL_INSURANCE)
    assert card.financial_status is None
