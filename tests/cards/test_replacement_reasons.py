"""Replacement reasons (issue #17): lost, damaged, changed personal information through a
corrected registry record, expired (from the rule set's renewal window)."""

import datetime

import pytest
import time_machine

from applicants.models import Applicant, RegistryRecord
from cards import services
from cards.choices import CardStatus, ReplacementReason
from cards.models import Card
from common.errors import ApplicationError
from tests.cards.conftest import T0

S = CardStatus
R = ReplacementReason


def replace(world, card, reason):
    return services.card_replace(
        card=card,
        actor=world.clerk,
        reason=reason,
        id_number=card.applicant.id_number,
        card_presented=True,
    )


def test_the_reasons_offered_follow_the_state(card_in):
    # Renewal (expired) only inside the renewal window of a rule set with a validity period
    # (tests/cards/test_rules.py); seed-2019 cards do not expire.
    assert services.replacement_reasons_for(card_in(S.ISSUED)) == [R.DAMAGED, R.CHANGED_INFORMATION]


def test_an_issued_card_is_not_replaced_as_lost(world, card_in):
    card = card_in(S.ISSUED)
    with pytest.raises(ApplicationError) as refused:
        replace(world, card, R.LOST)
    assert "reason" in refused.value.details
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_a_change_of_name_needs_the_corrected_registry_record(world, card_in):
    card = card_in(S.ISSUED)
    holder = card.applicant
    # The name changed: the person's record is corrected, but the registry not yet.
    Applicant.objects.filter(pk=holder.pk).update(name="王新名")
    with pytest.raises(ApplicationError) as refused:
        replace(world, Card.objects.get(pk=card.pk), R.CHANGED_INFORMATION)
    assert "reason" in refused.value.details
    assert Card.objects.get(pk=card.pk).status == S.ISSUED
    RegistryRecord.objects.filter(id_number=holder.id_number).update(name="王新名")
    new = replace(world, Card.objects.get(pk=card.pk), R.CHANGED_INFORMATION)
    assert new.status == S.VERIFIED  # the record matches: no second verification
    log = Card.objects.get(pk=card.pk).transitions.latest("id")
    assert log.data["replacement_reason"] == R.CHANGED_INFORMATION


def test_expired_is_for_rule_sets_with_a_validity(world, card_in):
    card = card_in(S.ISSUED)
    with pytest.raises(ApplicationError) as refused:
        replace(world, card, R.EXPIRED)
    assert "do not expire" in refused.value.message


def test_expired_opens_with_the_renewal_window(settings, world, card_in):
    settings.RULE_SET = "shanghai-3rd-gen"
    with time_machine.travel(T0, tick=False) as clock:
        card = card_in(S.ISSUED)
        expires_on = services.card_expires_on(card)
        assert expires_on == datetime.date(2036, 3, 2)
        clock.move_to(datetime.datetime(2036, 1, 1, 12, tzinfo=datetime.UTC))  # 61 days before
        with pytest.raises(ApplicationError) as refused:
            replace(world, card, R.EXPIRED)
        assert "2036-01-02" in refused.value.message
        clock.move_to(datetime.datetime(2036, 1, 2, 1, tzinfo=datetime.UTC))  # 60 days before
        new = replace(world, Card.objects.get(pk=card.pk), R.EXPIRED)
        assert new.replaces_id == card.pk
    assert refused.value.message == (
        "Renewal opens on 2036-01-02, 60 days before the card expires on 2036-03-02."
    )


def test_the_counter_offers_renewal_from_the_first_day_of_the_window_not_before(settings, card_in):
    settings.RULE_SET = "shanghai-3rd-gen"
    with time_machine.travel(T0, tick=False) as clock:
        card = card_in(S.ISSUED)
        clock.move_to(datetime.datetime(2036, 1, 1, 15, 59, tzinfo=datetime.UTC))  # 23:59 local
        assert R.EXPIRED not in services.replacement_reasons_for(card)
        clock.move_to(datetime.datetime(2036, 1, 1, 16, tzinfo=datetime.UTC))  # 2 January, 00:00
        assert services.replacement_reasons_for(card) == [
            R.DAMAGED,
            R.CHANGED_INFORMATION,
            R.EXPIRED,
        ]


def test_a_card_handed_over_on_29_february_expires_on_28_february(settings, card_in):
    settings.RULE_SET = "shanghai-3rd-gen"
    with time_machine.travel(datetime.datetime(2028, 2, 29, 2, tzinfo=datetime.UTC), tick=False):
        card = card_in(S.ISSUED)
    Card.objects.filter(pk=card.pk).update(expires_on=None)  # a card from before the column
    card = Card.objects.get(pk=card.pk)
    assert services.card_expires_on(card) == datetime.date(2038, 2, 28)
