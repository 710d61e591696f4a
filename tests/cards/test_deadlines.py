"""Deadlines are in force without the scheduler: with a frozen clock, a passed report shows and acts
as lapsed or cancelled, whichever path writes it, and the rows are the same either way."""

import datetime
import itertools

import pytest
import time_machine
from django.test import override_settings

from cards import rules, selectors, services
from cards.choices import CardStatus, TransitionName
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, CardTransition, OutboxEvent
from common.errors import ApplicationError
from tests.cards.conftest import T0, bring_to, eligible_person, report_by_phone, submit

S = CardStatus
T = TransitionName
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(hours=24)


@pytest.fixture
def phone_reported(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        return report_by_phone(world, card)


def effective(card: Card, at: datetime.datetime) -> str:
    return selectors.card_list(now=at).get(pk=card.pk).effective_status


def test_a_phone_report_is_live_one_second_before_24_hours_and_lapsed_at_24(phone_reported):
    card = phone_reported
    assert card.phone_report_expires_at == T0 + DAY
    assert effective(card, T0 + DAY - SECOND) == S.PHONE_REPORTED_LOST
    assert card.status_at(T0 + DAY - SECOND) == S.PHONE_REPORTED_LOST
    assert effective(card, T0 + DAY) == S.ISSUED
    assert card.status_at(T0 + DAY) == S.ISSUED
    # Nothing was written: only what anyone sees changed.
    card.refresh_from_db()
    assert card.status == S.PHONE_REPORTED_LOST


def test_withdrawing_a_phone_report_one_second_before_the_deadline_works(world, phone_reported):
    with time_machine.travel(T0 + DAY - SECOND, tick=False):
        card = services.card_withdraw_loss_report(
            card=phone_reported,
            actor=world.clerk,
            id_number=phone_reported.applicant.id_number,
            card_presented=True,
        )
    assert card.status == S.ISSUED
    assert card.transitions.order_by("id").last().name == T.WITHDRAW_LOSS_REPORT


def test_withdrawing_after_the_deadline_is_refused_and_the_lapse_is_written(world, phone_reported):
    with time_machine.travel(T0 + DAY, tick=False), pytest.raises(ApplicationError) as exc:
        services.card_withdraw_loss_report(
            card=phone_reported,
            actor=world.clerk,
            id_number=phone_reported.applicant.id_number,
            card_presented=True,
        )
    assert exc.value.code == "deadline_passed" and exc.value.status == 409
    # The clerk is told which deadline passed, in Shanghai time (17:30 is 09:30 UTC).
    assert exc.value.message == (
        "The phone report lapsed at 2026-03-03 17:30; the card is issued again."
    )
    assert exc.value.details == {"deadline": "2026-03-03T09:30:00.000000Z", "status": S.ISSUED}
    card = Card.objects.get(pk=phone_reported.pk)
    assert card.status == S.ISSUED  # the lapse was committed though the request was refused
    last = card.transitions.order_by("id").last()
    assert (last.name, last.from_status, last.to_status) == (
        T.LAPSE_PHONE_REPORT,
        S.PHONE_REPORTED_LOST,
        S.ISSUED,
    )
    assert last.at == T0 + DAY and last.actor_kind == "system"


def test_a_written_report_after_a_lapsed_phone_report_starts_from_issued(world, phone_reported):
    with time_machine.travel(T0 + DAY + SECOND, tick=False):
        card = services.card_report_lost_in_writing(
            card=phone_reported, actor=world.clerk, id_number=phone_reported.applicant.id_number
        )
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names[-3:] == [T.REPORT_LOST_BY_PHONE, T.LAPSE_PHONE_REPORT, T.REPORT_LOST_IN_WRITING]
    assert card.status == S.WRITTEN_LOST


def test_a_written_report_cancels_the_card_at_30_days(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
    deadline = T0 + datetime.timedelta(days=30)
    assert card.written_report_expires_at == deadline
    assert effective(card, deadline - SECOND) == S.WRITTEN_LOST
    assert effective(card, deadline) == S.CANCELLED
    with time_machine.travel(deadline, tick=False), pytest.raises(ApplicationError) as exc:
        services.card_replace(
            card=card,
            actor=world.clerk,
            reason="lost",
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    assert exc.value.code == "deadline_passed"
    assert exc.value.message.startswith(
        "The written report expired at 2026-04-01 17:30 and the card was cancelled automatically."
    )
    card.refresh_from_db()
    assert card.status == S.CANCELLED and card.closed_at == deadline
    # After automatic cancellation, a replacement is a new application pointing at the old card.
    with time_machine.travel(deadline + DAY, tick=False):
        new = services.card_submit(
            applicant=card.applicant,
            card_type=card.card_type,
            actor=world.clerk,
            bank=world.bank,
            collection_point=world.outlet,
            replaces=card,
        )
    assert new.replaces == card and new.status == S.APPLIED
    assert new.transitions.get().data == {"replaces": str(card.public_id)}
    card.refresh_from_db()
    assert card.status == S.CANCELLED and card.replaced_by == new


def test_a_changed_rule_set_changes_no_existing_report(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    with override_settings(RULE_SET="shanghai-3rd-gen"):
        assert effective(card, T0 + DAY) == S.ISSUED
        other = card_in(S.ISSUED, applicant=eligible_person())
        with time_machine.travel(T0, tick=False):
            other = report_by_phone(world, other)
        assert other.phone_report_expires_at == T0 + 5 * DAY


def test_the_sweep_and_the_touch_write_the_same_rows(world, card_in):
    """One card expired by a service touching it, its twin by the sweep: identical rows."""
    touched = card_in(S.ISSUED)
    swept = card_in(S.ISSUED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        touched = report_by_phone(world, touched)
        swept = report_by_phone(world, swept)
    now = T0 + DAY + datetime.timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        with pytest.raises(ApplicationError):
            services.card_withdraw_loss_report(
                card=touched,
                actor=world.clerk,
                id_number=touched.applicant.id_number,
                card_presented=True,
            )
        assert expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=now) == [swept.pk]

    def rows(card):
        log = CardTransition.objects.filter(card=card).order_by("id").last()
        event = OutboxEvent.objects.filter(card=card).order_by("id").last()
        payload = dict(event.payload, card=None)
        return (
            log.name,
            log.from_status,
            log.to_status,
            log.at,
            log.actor_kind,
            log.channel,
            log.data,
            payload,
        )

    assert rows(touched) == rows(swept)
    assert rows(swept)[3] == T0 + DAY


def test_the_sweep_takes_only_what_is_due(world, card_in):
    due = card_in(S.ISSUED)
    not_yet = card_in(S.ISSUED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        due = report_by_phone(world, due)
    with time_machine.travel(T0 + SECOND, tick=False):
        not_yet = report_by_phone(world, not_yet)
    expired = expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=T0 + DAY)
    assert expired == [due.pk]
    assert expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=T0 + DAY) == []
    not_yet.refresh_from_db()
    assert not_yet.status == S.PHONE_REPORTED_LOST


def test_a_replacement_links_both_cards_with_complete_logs(world, card_in):
    old = card_in(S.ISSUED)
    new = services.card_report_lost_in_writing(
        card=old, actor=world.clerk, id_number=old.applicant.id_number, request_replacement=True
    )
    old.refresh_from_db()
    assert old.status == S.REPLACED and old.replaced_by == new and new.replaces == old
    # The holder's record is unchanged in the registry: the new card starts verified.
    assert new.status == S.VERIFIED and new.bank == old.bank
    assert new.collection_point == old.collection_point
    live = Card.objects.filter(
        applicant=old.applicant,
        status__in=[s for s in S if s not in {S.CANCELLED, S.REPLACED, S.REJECTED, S.WITHDRAWN}],
    )
    assert list(live) == [new]
    old_log = list(old.transitions.order_by("id").values_list("name", flat=True))
    assert old_log == [
        T.SUBMIT,
        T.VERIFY,
        T.MARK_READY,
        T.HAND_OVER,
        T.REPORT_LOST_IN_WRITING,
        T.REPLACE,
    ]
    new_rows = list(new.transitions.order_by("id"))
    assert [r.name for r in new_rows] == [T.SUBMIT, T.VERIFY]
    assert new_rows[0].data["replaces"] == str(old.public_id)
    assert new_rows[1].data["automatic"] is True


def test_a_replacement_starts_applied_when_the_registry_record_changed(world, card_in):
    from applicants.models import RegistryRecord

    old = card_in(S.ISSUED)
    RegistryRecord.objects.filter(id_number=old.applicant.id_number).update(
        hukou_place="上海市黄浦区"
    )
    new = services.card_replace(
        card=old,
        actor=world.clerk,
        reason="damaged",
        id_number=old.applicant.id_number,
        card_presented=True,
        note="Bent chip.",
    )
    assert new.status == S.APPLIED
    assert old.transitions.order_by("id").last().reason == "Bent chip."


def test_log_chains_are_consistent(world, card_in):
    """Each row's `from` is the previous row's `to`, for every card in this test."""
    for state in (S.WRITTEN_LOST, S.REPLACED, S.CANCELLED):
        bring_to(world, submit(world, eligible_person()), state)
    for card in Card.objects.all():
        statuses = list(card.transitions.order_by("id").values_list("from_status", "to_status"))
        for (_, previous_to), (next_from, _) in itertools.pairwise(statuses):
            assert next_from == previous_to
        assert statuses[-1][1] == card.status


def test_a_medical_card_replaced_at_a_community_center_is_completed_at_its_medical_point(world):
    from tests.cards.test_services import medical_card_at_street_point

    card = medical_card_at_street_point(world)
    card = services.card_mark_ready(
        card=card, actor=world.street_medical_clerk, card_number="YB0000001"
    )
    card = services.card_hand_over(
        card=card,
        actor=world.street_medical_clerk,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
    )
    new = services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number, request_replacement=True
    )
    assert new.service_point == world.community
    assert new.collection_point == world.street_medical
    assert new.status == S.VERIFIED
    new = services.card_mark_ready(
        card=new, actor=world.street_medical_clerk, card_number="YB0000002"
    )
    assert new.status == S.READY_FOR_COLLECTION


def test_the_portable_batch_takes_the_oldest_deadlines_first_and_only_the_cards_named(world):
    """The ORM path of `make run` (SQLite), run here on PostgreSQL: the same choice of rows as
    the statement (oldest deadline, then id; `card_ids` when given). Mutation survivors."""
    from cards.expiry import _expire_batch_portable
    from tests.cards.due_cards import make_due_cards

    cards = make_due_cards(
        4,
        status=CardStatus.PHONE_REPORTED_LOST,
        first_deadline=T0,
        step=datetime.timedelta(seconds=1),
        point=world.county_medical,
    )
    Card.objects.filter(pk=cards[3].pk).update(phone_report_expires_at=T0)  # ties with the first
    expiry = EXPIRIES[TransitionName.LAPSE_PHONE_REPORT]
    now = T0 + datetime.timedelta(days=1)
    assert _expire_batch_portable(expiry, now=now, limit=5, card_ids=[cards[2].pk]) == [cards[2].pk]
    assert _expire_batch_portable(expiry, now=now, limit=2, card_ids=None) == [
        cards[0].pk,
        cards[3].pk,
    ]
    assert Card.objects.get(pk=cards[1].pk).status == CardStatus.PHONE_REPORTED_LOST


@pytest.mark.parametrize(
    "name", [TransitionName.LAPSE_PHONE_REPORT, TransitionName.EXPIRE_WRITTEN_REPORT]
)
def test_the_portable_batch_writes_what_the_statement_writes(world, name):
    """Two twin due cards, one expired by the PostgreSQL statement and one by the ORM path of
    `make run`: the same card columns, log row, bank event and card-center notice, each dated at
    the deadline (the card and the cards' ids aside)."""
    from cards.expiry import _expire_batch_portable, _expire_batch_postgresql
    from cards.models import CardCenterNotice
    from tests.cards.due_cards import make_due_cards

    expiry = EXPIRIES[name]
    status = expiry.source
    by_statement, by_orm = make_due_cards(
        2, status=status, first_deadline=T0, step=datetime.timedelta(0), point=world.outlet
    )
    Card.objects.filter(pk__in=[by_statement.pk, by_orm.pk]).update(bank=world.bank)
    now = T0 + datetime.timedelta(days=40)
    assert _expire_batch_postgresql(expiry, now=now, limit=5, card_ids=[by_statement.pk]) == [
        by_statement.pk
    ]
    assert _expire_batch_portable(expiry, now=now, limit=5, card_ids=[by_orm.pk]) == [by_orm.pk]

    def written(card: Card) -> dict:
        card = Card.objects.get(pk=card.pk)
        log = CardTransition.objects.filter(card=card).values(
            "name", "from_status", "to_status", "at", "recorded_at", "actor_kind", "channel", "data"
        )
        event = OutboxEvent.objects.filter(card=card).values("kind", "bank_id", "payload")
        notice = CardCenterNotice.objects.filter(card=card).values(
            "kind", "from_status", "to_status", "at", "bank_id", "card_type"
        )
        (event_row,) = event
        event_row["payload"] = {**event_row["payload"], "card": "-"}
        return {
            "card": (card.status, card.closed_at, card.updated_at),
            "log": list(log),
            "event": event_row,
            "notice": list(notice),
        }

    assert written(by_orm) == written(by_statement)
    result = written(by_orm)
    assert result["card"][0] == expiry.target
    assert result["log"][0]["at"] == T0 and result["log"][0]["recorded_at"] == now
    assert result["event"]["bank_id"] == world.bank.pk
    assert len(result["notice"]) == 1


def test_handing_over_after_the_uncollected_deadline_says_the_card_was_cancelled_and_when(world):
    with override_settings(RULE_SET=rules.SHANGHAI_3RD_GEN), time_machine.travel(T0, tick=False):
        card = bring_to(world, submit(world, eligible_person()), S.READY_FOR_COLLECTION)
    deadline = card.uncollected_cancels_at
    assert deadline == T0 + 183 * DAY
    with time_machine.travel(deadline, tick=False), pytest.raises(ApplicationError) as exc:
        services.card_hand_over(
            card=card,
            actor=world.bank_actor,
            id_number=card.applicant.id_number,
            receipt_number=card.receipt_number,
        )
    assert exc.value.code == "deadline_passed" and exc.value.status == 409
    assert exc.value.message == (
        "The card was not collected by 2026-09-01 17:30 and was cancelled; apply for a new one."
    )
    assert exc.value.details == {"deadline": "2026-09-01T09:30:00.000000Z", "status": S.CANCELLED}
    assert Card.objects.get(pk=card.pk).status == S.CANCELLED
