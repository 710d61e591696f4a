"""The electronic social security card (issue #17): its status derived from the card's, pushed to
the national platform in the transition's own transaction, delivered by the card-center
machinery; only under a rule set with electronic cards."""

import datetime

import pytest
import time_machine
from django.db import connection

from cards import electronic, services, sweeps
from cards.choices import CardStatus, ElectronicCardStatus, ReplacementReason, TransitionName
from cards.models import Card, ElectronicCardEvent, ElectronicCardReceipt
from tests.cards.conftest import T0, report_by_phone

S = CardStatus
E = ElectronicCardStatus
T = TransitionName


@pytest.fixture
def third_gen(settings):
    settings.RULE_SET = "shanghai-3rd-gen"


def changes(card) -> list[tuple[str, str, str]]:
    return [
        (e.transition, e.from_status, e.to_status)
        for e in ElectronicCardEvent.objects.filter(card=card).order_by("id")
    ]


def test_seed_2019_has_no_electronic_card(world, card_in):
    card = card_in(S.ISSUED)
    report_by_phone(world, card)
    assert not ElectronicCardEvent.objects.exists()
    assert electronic.electronic_status(card) is None


def test_status_follows_the_card_through_loss_and_replacement(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    assert electronic.electronic_status(card) == E.ACTIVE
    card = services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number, request_replacement=True
    )
    new, old = card, card.replaces
    assert changes(old) == [
        (T.HAND_OVER, "", E.ACTIVE),
        (T.REPORT_LOST_IN_WRITING, E.ACTIVE, E.SUSPENDED),
        (T.REPLACE, E.SUSPENDED, E.CANCELLED),
    ]
    # The replacement is pending: the person's electronic card is suspended until it is issued.
    assert changes(new) == [(T.SUBMIT, "", E.SUSPENDED)]
    assert electronic.electronic_status(new) == E.SUSPENDED
    new = services.card_mark_ready(card=new, actor=world.bank_actor, card_number="SC77000001")
    new = services.card_hand_over(
        card=new,
        actor=world.bank_actor,
        id_number=new.applicant.id_number,
        receipt_number=new.receipt_number,
    )
    assert changes(new)[-1] == (T.HAND_OVER, E.SUSPENDED, E.ACTIVE)
    assert electronic.electronic_status(new) == E.ACTIVE


def test_a_lapsed_phone_report_reactivates_it_through_the_sweep(third_gen, world, card_in):
    with time_machine.travel(T0, tick=False) as clock:
        card = report_by_phone(world, card_in(S.ISSUED))
        assert changes(card)[-1] == (T.REPORT_LOST_BY_PHONE, E.ACTIVE, E.SUSPENDED)
        clock.shift(datetime.timedelta(days=5, seconds=1))
        # In force before the sweep runs ...
        assert electronic.electronic_status(Card.objects.get(pk=card.pk)) == E.ACTIVE
        assert sweeps.sweep(T.LAPSE_PHONE_REPORT).expired == 1
    # ... and told to the platform by the sweep, dated at the deadline.
    last = ElectronicCardEvent.objects.filter(card=card).latest("id")
    assert (last.transition, last.from_status, last.to_status) == (
        T.LAPSE_PHONE_REPORT,
        E.SUSPENDED,
        E.ACTIVE,
    )
    assert last.at == Card.objects.get(pk=card.pk).phone_report_expires_at


def test_a_damaged_replacement(third_gen, world, card_in):
    old = card_in(S.ISSUED)
    new = services.card_replace(
        card=old,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=old.applicant.id_number,
        card_presented=True,
    )
    assert changes(old)[-1] == (T.REPLACE, E.ACTIVE, E.CANCELLED)
    services.card_withdraw(card=new, actor=world.clerk, reason="Changed their mind.")
    assert changes(new) == [(T.SUBMIT, "", E.SUSPENDED), (T.WITHDRAW, E.SUSPENDED, E.CANCELLED)]


@pytest.mark.django_db(transaction=True)
def test_the_local_platform_records_each_event_once(third_gen, world, card_in):
    card = card_in(S.ISSUED)
    event = ElectronicCardEvent.objects.get(card=card)
    assert electronic.event_deliver(event_id=event.pk) == "delivered"
    receipt = ElectronicCardReceipt.objects.get(event_id=event.event_id)
    assert receipt.status == E.ACTIVE and receipt.card_number == card.card_number
    assert receipt.body["social_security_number"] == card.applicant.id_number
    assert receipt.body["to"] == E.ACTIVE and receipt.body["card"] == str(card.public_id)
    # At rest, the inbox holds the card number and the social security number encrypted only.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT card_number, body::text FROM cards_electroniccardreceipt WHERE id = %s",
            [receipt.pk],
        )
        stored_number, stored_body = cursor.fetchone()
    assert card.card_number not in stored_number + stored_body
    assert card.applicant.id_number not in stored_body
    assert electronic.event_deliver(event_id=event.pk) == "not_due"
    # A redelivery (the platform's answer was lost): recorded once, counted twice.
    ElectronicCardEvent.objects.filter(pk=event.pk).update(
        delivered_at=None, next_attempt_at=event.created_at
    )
    assert electronic.event_deliver(event_id=event.pk) == "delivered"
    receipt.refresh_from_db()
    assert receipt.times_received == 2 and ElectronicCardReceipt.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_events_of_a_card_go_in_order(third_gen, world, card_in):
    card = report_by_phone(world, card_in(S.ISSUED))
    first, second = ElectronicCardEvent.objects.filter(card=card).order_by("id")
    assert electronic.event_deliver(event_id=second.pk) == "waiting"
    assert electronic.event_deliver(event_id=first.pk) == "delivered"
    assert electronic.event_deliver(event_id=second.pk) == "delivered"


@pytest.mark.django_db(transaction=True)
def test_the_http_backend_retries_a_refused_delivery(third_gen, settings, world, card_in):
    settings.NATIONAL_PLATFORM_BACKEND = "cards.electronic.HttpPlatform"
    settings.NATIONAL_PLATFORM_URL = "http://127.0.0.1:9/ecard"
    settings.NATIONAL_PLATFORM_SECRET = "s3cret"
    card = card_in(S.ISSUED)
    event = ElectronicCardEvent.objects.get(card=card)
    assert electronic.event_deliver(event_id=event.pk) == "failed"
    event.refresh_from_db()
    assert event.delivered_at is None and event.attempts == 1 and event.last_error
    assert event.next_attempt_at > event.created_at
    assert not ElectronicCardReceipt.objects.exists()
