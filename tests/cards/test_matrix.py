"""The whole (state, transition) matrix, generated from the choices, under each rule set
(cards/rules.py): every allowed pair works and writes exactly one log row; every other pair is
refused and changes nothing. A deadline the rule set does not give never falls due."""

import datetime

import pytest
import time_machine
from django.test import override_settings

from cards import rules, services
from cards.choices import CardStatus, CardType, TransitionName
from cards.models import Card, CardTransition, OutboxEvent
from common.errors import ApplicationError
from tests.cards.conftest import T0, bring_to, card_number, eligible_person, submit

S = CardStatus
T = TransitionName

# The specification (issue: the lifecycle engine), written out independently of the code.
ALLOWED: dict[str, tuple[set[str], str]] = {
    T.VERIFY: ({S.APPLIED}, S.VERIFIED),
    T.REJECT: ({S.APPLIED}, S.REJECTED),
    T.WITHDRAW: ({S.APPLIED, S.VERIFIED, S.READY_FOR_COLLECTION}, S.WITHDRAWN),
    T.MARK_READY: ({S.VERIFIED}, S.READY_FOR_COLLECTION),
    T.ISSUE_ON_THE_SPOT: ({S.VERIFIED}, S.ISSUED),
    T.HAND_OVER: ({S.READY_FOR_COLLECTION}, S.ISSUED),
    T.REPORT_LOST_BY_PHONE: ({S.ISSUED}, S.PHONE_REPORTED_LOST),
    T.LAPSE_PHONE_REPORT: ({S.PHONE_REPORTED_LOST}, S.ISSUED),
    T.WITHDRAW_LOSS_REPORT: ({S.PHONE_REPORTED_LOST, S.WRITTEN_LOST}, S.ISSUED),
    T.REPORT_LOST_IN_WRITING: ({S.ISSUED, S.PHONE_REPORTED_LOST}, S.WRITTEN_LOST),
    T.EXPIRE_WRITTEN_REPORT: ({S.WRITTEN_LOST}, S.CANCELLED),
    T.REPLACE: ({S.WRITTEN_LOST, S.ISSUED}, S.REPLACED),
    T.CANCEL: ({S.ISSUED}, S.CANCELLED),
    T.CANCEL_UNCOLLECTED: ({S.READY_FOR_COLLECTION}, S.CANCELLED),
}
EXPIRY_TRANSITIONS = {T.LAPSE_PHONE_REPORT, T.EXPIRE_WRITTEN_REPORT, T.CANCEL_UNCOLLECTED}
# Per rule set, the expiries whose deadline it does not give: from their source state they are
# refused as not due (deadline_not_reached), however long one waits.
NEVER_DUE: dict[str, set[str]] = {
    rules.SEED_2019: {T.CANCEL_UNCOLLECTED},  # uncollected cards are only flagged
    rules.SHANGHAI_3RD_GEN: {T.EXPIRE_WRITTEN_REPORT},  # a formal report never cancels by itself
}
WAIT = {T.CANCEL_UNCOLLECTED: datetime.timedelta(days=184)}  # else 31 days: past every deadline


def perform(world, name: str, card: Card) -> Card:
    holder = card.applicant
    calls = {
        T.VERIFY: lambda: services.card_verify(card=card, actor=world.clerk),
        T.REJECT: lambda: services.card_reject(card=card, actor=world.clerk, reason="Bad form."),
        T.WITHDRAW: lambda: services.card_withdraw(card=card, actor=world.clerk, reason="No."),
        T.MARK_READY: lambda: services.card_mark_ready(
            card=card, actor=world.bank_actor, card_number=card_number()
        ),
        T.ISSUE_ON_THE_SPOT: lambda: services.card_issue_on_the_spot(
            card=card, actor=world.county_clerk, card_number=card_number()
        ),
        T.HAND_OVER: lambda: services.card_hand_over(
            card=card,
            actor=world.bank_actor,
            id_number=holder.id_number,
            receipt_number=card.receipt_number,
        ),
        T.REPORT_LOST_BY_PHONE: lambda: services.card_report_lost_by_phone(
            card=card,
            actor=world.hotline_operator,
            caller_name=holder.name,
            caller_id_number=holder.id_number,
            contact_phone="13900139000",
            home_address="上海市徐汇区",
        ),
        T.LAPSE_PHONE_REPORT: lambda: services.card_lapse_phone_report(
            card=card, actor=world.system
        ),
        T.WITHDRAW_LOSS_REPORT: lambda: services.card_withdraw_loss_report(
            card=card, actor=world.clerk, id_number=card.applicant.id_number, card_presented=True
        ),
        T.REPORT_LOST_IN_WRITING: lambda: services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=holder.id_number
        ),
        T.EXPIRE_WRITTEN_REPORT: lambda: services.card_expire_written_report(
            card=card, actor=world.system
        ),
        T.REPLACE: lambda: services.card_replace(
            card=card,
            actor=world.clerk,
            reason="lost" if card.status == S.WRITTEN_LOST else "damaged",
            id_number=holder.id_number,
            card_presented=True,
        ),
        T.CANCEL: lambda: services.card_cancel(card=card, actor=world.supervisor, reason="Died."),
        T.CANCEL_UNCOLLECTED: lambda: services.card_cancel_uncollected(
            card=card, actor=world.system
        ),
    }
    return calls[name]()


def card_for(world, name: str, state: str) -> Card:
    """A card in `state`; a medical insurance card at a county center for issuing on the spot."""
    if name == T.ISSUE_ON_THE_SPOT and state == S.VERIFIED:
        card = services.card_submit(
            applicant=eligible_person(),
            card_type=CardType.MEDICAL_INSURANCE,
            actor=world.county_clerk,
        )
        return services.card_verify(card=card, actor=world.county_clerk)
    return bring_to(world, submit(world, eligible_person()), state)


def snapshot(card: Card):
    card = Card.objects.get(pk=card.pk)
    return (
        card.status,
        card.updated_at,
        CardTransition.objects.filter(card=card).count(),
        OutboxEvent.objects.filter(card=card).count(),
        Card.objects.count(),
    )


MATRIX = [
    (rule_set, name, state)
    for rule_set in rules.RULE_SETS
    for name in ALLOWED
    for state in CardStatus.values
]


@pytest.mark.parametrize(
    ("rule_set", "name", "state"), MATRIX, ids=[f"{r}-{n}-from-{s}" for r, n, s in MATRIX]
)
def test_transition_matrix(world, rule_set, name, state):
    sources, target = ALLOWED[name]
    with override_settings(RULE_SET=rule_set), time_machine.travel(T0, tick=False) as clock:
        card = card_for(world, name, state)
        assert card.status == state and card.rule_set == rule_set
        before = snapshot(card)
        if name in EXPIRY_TRANSITIONS:
            clock.shift(WAIT.get(name, datetime.timedelta(days=31)))
        if state in sources and name in NEVER_DUE[rule_set]:
            with pytest.raises(ApplicationError) as refused:
                perform(world, name, card)
            assert refused.value.code == "deadline_not_reached", refused.value.message
            assert snapshot(card) == before
        elif state in sources:
            result = perform(world, name, card)
            card.refresh_from_db()
            assert card.status == target
            new_rows = CardTransition.objects.filter(card=card).order_by("id")[before[2] :]
            assert [(r.name, r.from_status, r.to_status) for r in new_rows] == [
                (name, state, target)
            ]
            if name == T.REPLACE:
                assert result.replaces == card and result.is_live
        else:
            with pytest.raises(ApplicationError) as refused:
                perform(world, name, card)
            assert refused.value.code == "transition_not_allowed", refused.value.message
            assert refused.value.status == 409
            assert snapshot(card) == before


def test_matrix_covers_every_transition_and_state():
    assert set(ALLOWED) == set(TransitionName.values) - {T.SUBMIT}
    assert len(MATRIX) == len(rules.RULE_SETS) * 14 * 10
