"""Every lock of the card rules, against a second connection holding the row (tests/locks.py): each
test fails when the lock it names is removed.

- A service locks the card before it checks anything (cards/services.py): it waits for a card
  another transaction holds, then acts on what that transaction left.
- A submission locks the person, their live cards of the type and the card it replaces.
- A written report locks its point's certificate counter for the day.
- The sweep claims due cards with SKIP LOCKED (cards/expiry.py): a card a clerk holds is skipped,
  never waited on, and the others are taken at once.
"""

from __future__ import annotations

import datetime
import time

import pytest
import time_machine

from applicants.models import Applicant
from cards import services
from cards.choices import CardStatus, CardType, ReplacementReason, TransitionName
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, CardTransition, LossCertificateCounter
from cards.sweeps import sweep
from tests.cards.conftest import T0, card_number, eligible_person, report_by_phone, submit
from tests.locks import assert_waits_for_the_lock, lock_timeout, row_held

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)


def _hand_over(world, card):
    return services.card_hand_over(
        card=card,
        actor=world.bank_actor,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
    )


def _in_writing(world, card):
    return services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )


# (state the card is in, the service call) for every service that acts on an existing card.
SERVICES = {
    "verify": (S.APPLIED, lambda w, c: services.card_verify(card=c, actor=w.clerk)),
    "reject": (S.APPLIED, lambda w, c: services.card_reject(card=c, actor=w.clerk, reason="x")),
    "withdraw": (
        S.VERIFIED,
        lambda w, c: services.card_withdraw(card=c, actor=w.clerk, reason="x"),
    ),
    "mark_ready": (
        S.VERIFIED,
        lambda w, c: services.card_mark_ready(
            card=c, actor=w.bank_actor, card_number=card_number()
        ),
    ),
    "hand_over": (S.READY_FOR_COLLECTION, _hand_over),
    "report_lost_by_phone": (S.ISSUED, report_by_phone),
    "report_lost_in_writing": (S.ISSUED, _in_writing),
    "withdraw_loss_report": (
        S.WRITTEN_LOST,
        lambda w, c: services.card_withdraw_loss_report(
            card=c, actor=w.clerk, id_number=c.applicant.id_number, card_presented=True
        ),
    ),
    "replace": (
        S.ISSUED,
        lambda w, c: services.card_replace(
            card=c,
            actor=w.clerk,
            id_number=c.applicant.id_number,
            card_presented=True,
            reason=ReplacementReason.DAMAGED,
        ),
    ),
    "cancel": (S.ISSUED, lambda w, c: services.card_cancel(card=c, actor=w.supervisor, reason="x")),
}


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_service_waits_for_a_card_another_transaction_holds(world, card_in, name):
    state, act = SERVICES[name]
    card = card_in(state)
    rows = card.transitions.count()
    with row_held(Card, card.pk):
        assert_waits_for_the_lock(lambda: act(world, card))
        assert Card.objects.get(pk=card.pk).status == state
        assert card.transitions.count() == rows
    act(world, Card.objects.get(pk=card.pk))  # released: it goes through
    assert card.transitions.count() > rows


@pytest.mark.parametrize("kind", ["phone", "written"])
def test_the_scheduler_service_waits_for_a_card_another_transaction_holds(world, card_in, kind):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card) if kind == "phone" else _in_writing(world, card)
    expire = (
        services.card_lapse_phone_report if kind == "phone" else services.card_expire_written_report
    )
    with time_machine.travel(T0 + datetime.timedelta(days=31), tick=False):
        with row_held(Card, card.pk):
            assert_waits_for_the_lock(lambda: expire(card=card, actor=world.system))
        assert expire(card=card, actor=world.system).status in (S.ISSUED, S.CANCELLED)


def test_a_service_acts_on_what_the_transaction_it_waited_for_left(world, card_in):
    """The lock's point: the card is read after the other transaction commits, not before (else
    the bank's "ready" would overwrite a withdrawal it never saw)."""
    import threading

    from django.db import connection

    from common.errors import ApplicationError
    from tests.locks import _connect

    card = card_in(S.VERIFIED)
    outcome: list = []

    def bank_marks_ready():
        try:
            services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
            outcome.append("ok")
        except ApplicationError as exc:
            outcome.append(exc.code)
        finally:
            connection.close()

    other = _connect()
    try:
        other.execute("SELECT 1 FROM cards_card WHERE id = %s FOR UPDATE", [card.pk])
        other.execute("UPDATE cards_card SET status = %s WHERE id = %s", [S.WITHDRAWN, card.pk])
        bank = threading.Thread(target=bank_marks_ready)
        bank.start()
        time.sleep(0.5)  # the bank's request is now waiting for the row
        assert not outcome
        other.commit()
        bank.join(timeout=20)
    finally:
        other.close()
    assert outcome == ["transition_not_allowed"]
    assert Card.objects.get(pk=card.pk).status == S.WITHDRAWN


# --- Submission -------------------------------------------------------------------------------


def test_a_submission_waits_for_the_person_another_submission_holds(world, person):
    # FOR NO KEY UPDATE: the new card's foreign key to the person does not wait for it; only a
    # lock on the person does.
    with row_held(Applicant, person.pk, "FOR NO KEY UPDATE"):
        assert_waits_for_the_lock(lambda: submit(world, person))
        assert not Card.objects.filter(applicant=person).exists()
    assert submit(world, person).status == S.APPLIED


def test_a_submission_waits_for_the_persons_live_card(world, card_in, person):
    live = card_in(S.ISSUED)
    with row_held(Card, live.pk):
        assert_waits_for_the_lock(lambda: submit(world, person))


def test_a_submission_waits_for_the_card_it_replaces(world, card_in, person):
    cancelled = card_in(S.CANCELLED)

    def replacement():
        return services.card_submit(
            applicant=person,
            card_type=CardType.SOCIAL_SECURITY,
            actor=world.clerk,
            bank=world.bank,
            collection_point=world.outlet,
            replaces=cancelled,
        )

    with row_held(Card, cancelled.pk):
        assert_waits_for_the_lock(replacement)
        assert not Card.objects.filter(replaces=cancelled).exists()
    assert replacement().replaces == cancelled


# --- The certificate counter ------------------------------------------------------------------


def test_a_written_report_waits_for_its_points_certificate_counter(world, card_in):
    first = card_in(S.ISSUED)
    second = card_in(S.ISSUED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        first = _in_writing(world, first)
        counter = LossCertificateCounter.objects.get(service_point=world.community)
        with row_held(LossCertificateCounter, counter.pk):
            assert_waits_for_the_lock(lambda: _in_writing(world, second))
        second = _in_writing(world, second)
    assert first.loss_certificate_number.endswith("-0001")
    assert second.loss_certificate_number.endswith("-0002")


# --- The sweep: SKIP LOCKED -------------------------------------------------------------------


@pytest.fixture
def three_due_phone_reports(world, card_in):
    cards = []
    for minutes in (1, 2, 3):
        card = card_in(S.ISSUED, applicant=eligible_person())
        with time_machine.travel(T0 + datetime.timedelta(minutes=minutes), tick=False):
            cards.append(report_by_phone(world, card))
    return cards


@pytest.mark.parametrize("mode", ["FOR UPDATE", "FOR KEY SHARE"])
def test_the_sweep_skips_a_card_a_clerk_holds_and_takes_the_others_at_once(
    three_due_phone_reports, mode
):
    held, *others = three_due_phone_reports  # the oldest deadline: the first the sweep claims
    now = T0 + datetime.timedelta(days=2)
    with row_held(Card, held.pk, mode), lock_timeout(2000):
        started = time.monotonic()
        result = sweep(T.LAPSE_PHONE_REPORT, now=now)
        assert time.monotonic() - started < 1.5  # did not wait for the held card
        assert result.expired == 2
        statuses = dict(Card.objects.values_list("pk", "status").filter(pk__in=[held.pk]))
        assert statuses[held.pk] == S.PHONE_REPORTED_LOST
        for card in others:
            assert Card.objects.get(pk=card.pk).status == S.ISSUED
    # Released: the next run takes it, once.
    assert sweep(T.LAPSE_PHONE_REPORT, now=now).expired == 1
    assert CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).count() == 3


def test_a_batch_limited_to_one_card_skips_the_held_one(three_due_phone_reports):
    held, next_oldest, _ = three_due_phone_reports
    now = T0 + datetime.timedelta(days=2)
    with row_held(Card, held.pk, "FOR UPDATE"), lock_timeout(2000):
        taken = expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=now, limit=1)
    assert taken == [next_oldest.pk]


# --- A card number committed by another transaction meanwhile ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_number_another_transaction_commits_meanwhile_is_the_documented_409(world, card_in):
    """The number is free when checked; the save then waits at the unique index for the other
    transaction, which commits the same number: card_number_taken, never an IntegrityError."""
    from django.db import connection

    from common.errors import ApplicationError
    from tests.locks import commit_once_waited_on, other_transaction

    racing, other_card = (card_in(S.VERIFIED, eligible_person()) for _ in range(2))
    number = card_number()
    stored = Card._meta.get_field("card_number").get_db_prep_save(number, connection)
    with other_transaction() as other:
        other.execute(
            "UPDATE cards_card SET status = 'ready_for_collection', card_number = %s, "
            "card_number_bidx = %s WHERE id = %s",
            [stored, Card.blind_index("card_number", number), other_card.pk],
        )
        committer = commit_once_waited_on(other)
        try:
            with pytest.raises(ApplicationError) as refused:
                services.card_mark_ready(card=racing, actor=world.bank_actor, card_number=number)
        finally:
            committer.join()
    assert (refused.value.code, refused.value.status) == ("card_number_taken", 409)
    racing.refresh_from_db()
    assert (racing.status, racing.card_number) == (S.VERIFIED, None)
