"""Card-center notices (cards/cardcenter.py): written with every transition that changes whether a
card may be used, for every card type; delivered to a real HTTP receiver signed, once per notice
id, in order per card, retried, behind a circuit breaker and a slot limit; visible in the admin."""

from __future__ import annotations

import datetime
import json
import logging

import psycopg
import pytest
import time_machine
from django.core.cache import cache
from django.db import connection, transaction

from cards import cardcenter, delivery, services
from cards.cardcenter import (
    LocalTableCardCenter,
    notice_deliver,
    notice_document,
    notice_redrive,
)
from cards.choices import CardStatus, CardType, ReplacementReason, TransitionName
from cards.expiry import EXPIRIES, expire_batch
from cards.models import CardCenterNotice, CardCenterReceipt
from cards.webhooks import verify_signature
from common import crypto
from config.celery import app as celery_app
from tests.cards.conftest import T0, card_number, eligible_person, report_by_phone, submit
from tests.cards.receivers import Receiver, clear_breakers

S = CardStatus
T = TransitionName
SECRET = "card-center-test-secret"


def kinds(card) -> list[str]:
    return list(card.card_center_notices.order_by("id").values_list("kind", flat=True))


@pytest.fixture(autouse=True)
def _closed_breakers():
    clear_breakers()
    yield
    clear_breakers()


@pytest.fixture
def http_center(settings):
    """The HTTP backend pointed at a real receiver on a port of our range (not started)."""
    receiver = Receiver()
    settings.CARD_CENTER_BACKEND = "cards.cardcenter.HttpCardCenter"
    settings.CARD_CENTER_URL = receiver.url()
    settings.CARD_CENTER_SECRET = SECRET
    settings.CARD_CENTER_CONNECT_TIMEOUT = 0.5
    settings.CARD_CENTER_TIMEOUT = 1.0
    yield receiver
    receiver.stop()


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


# --- Written with the transition ------------------------------------------------------------


def test_every_change_of_use_of_a_social_security_card_is_noticed(world, card_in):
    card = card_in(S.ISSUED)
    report_by_phone(world, card)
    services.card_withdraw_loss_report(
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        card_presented=True,
        reason="found",
    )
    report_by_phone(world, card)
    services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )
    services.card_withdraw_loss_report(
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        card_presented=True,
        reason="found",
    )
    services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )
    new = services.card_replace(
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        card_presented=True,
        reason=ReplacementReason.LOST,
    )
    assert kinds(card) == [
        T.HAND_OVER,
        T.REPORT_LOST_BY_PHONE,
        T.WITHDRAW_LOSS_REPORT,
        T.REPORT_LOST_BY_PHONE,
        T.REPORT_LOST_IN_WRITING,
        T.WITHDRAW_LOSS_REPORT,
        T.REPORT_LOST_IN_WRITING,
        T.REPLACE,
    ]
    notices = list(card.card_center_notices.order_by("id"))
    assert [(n.from_status, n.to_status) for n in notices] == [
        (S.READY_FOR_COLLECTION, S.ISSUED),
        (S.ISSUED, S.PHONE_REPORTED_LOST),
        (S.PHONE_REPORTED_LOST, S.ISSUED),
        (S.ISSUED, S.PHONE_REPORTED_LOST),
        (S.PHONE_REPORTED_LOST, S.WRITTEN_LOST),
        (S.WRITTEN_LOST, S.ISSUED),
        (S.ISSUED, S.WRITTEN_LOST),
        (S.WRITTEN_LOST, S.REPLACED),
    ]
    replaced = notice_document(notices[-1])
    assert replaced["card_number"] == card.card_number
    assert replaced["new_card"] == str(new.public_id)
    assert replaced["bank"] == "BOSC" and replaced["usable"] is False

    # The new card: nothing until it is in the holder's hands, then its issue names the old one.
    assert kinds(new) == []
    new = services.card_mark_ready(card=new, actor=world.bank_actor, card_number=card_number())
    assert kinds(new) == []
    new = services.card_hand_over(
        card=new,
        actor=world.bank_actor,
        id_number=new.applicant.id_number,
        receipt_number=new.receipt_number,
    )
    issued = notice_document(new.card_center_notices.get())
    assert issued["kind"] == T.HAND_OVER and issued["usable"] is True
    assert issued["card_number"] == new.card_number
    assert issued["replaces_card"] == str(card.public_id)
    assert issued["replaces_card_number"] == card.card_number
    services.card_cancel(card=new, actor=world.supervisor, reason="Left Shanghai.")
    assert kinds(new) == [T.HAND_OVER, T.CANCEL]


def test_a_medical_card_without_a_bank_is_noticed_also_by_the_sweeps(world, person):
    card = services.card_submit(
        applicant=person, card_type=CardType.MEDICAL_INSURANCE, actor=world.county_clerk
    )
    card = services.card_verify(card=card, actor=world.county_clerk)
    with time_machine.travel(T0, tick=False):
        card = services.card_issue_on_the_spot(
            card=card, actor=world.county_clerk, card_number=card_number()
        )
        report_by_phone(world, card)
    lapse_at = T0 + datetime.timedelta(hours=24)
    # One instant before the deadline the sweep takes nothing; at the deadline it lapses it.
    assert (
        expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=lapse_at - datetime.timedelta(1e-6)) == []
    )
    assert expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=lapse_at) == [card.pk]
    card.refresh_from_db()
    with time_machine.travel(lapse_at + datetime.timedelta(hours=1), tick=False):
        services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
    card.refresh_from_db()
    expire_batch(EXPIRIES[T.EXPIRE_WRITTEN_REPORT], now=card.written_report_expires_at)
    assert kinds(card) == [
        T.ISSUE_ON_THE_SPOT,
        T.REPORT_LOST_BY_PHONE,
        T.LAPSE_PHONE_REPORT,
        T.REPORT_LOST_IN_WRITING,
        T.EXPIRE_WRITTEN_REPORT,
    ]
    documents = [notice_document(n) for n in card.card_center_notices.order_by("id")]
    assert {d["bank"] for d in documents} == {None}
    assert {d["card_type"] for d in documents} == {CardType.MEDICAL_INSURANCE}
    assert {d["card_number"] for d in documents} == {card.card_number}
    lapse, cancelled = documents[2], documents[4]
    assert (lapse["from"], lapse["to"], lapse["usable"]) == (S.PHONE_REPORTED_LOST, S.ISSUED, True)
    assert lapse["at"] == "2026-03-03T09:30:00.000000Z"  # dated at the deadline
    assert (cancelled["to"], cancelled["usable"]) == (S.CANCELLED, False)
    assert len({d["id"] for d in documents}) == 5


def test_no_notice_for_changes_that_do_not_touch_the_use_of_a_card(world, person):
    card = submit(world, person)
    card = services.card_verify(card=card, actor=world.clerk)
    card = services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    services.card_withdraw(card=card, actor=world.clerk, reason="Moved away.")
    assert kinds(card) == []


def test_a_transition_rolled_back_leaves_no_notice(world, card_in):
    card = card_in(S.ISSUED)
    with pytest.raises(RuntimeError), transaction.atomic():
        report_by_phone(world, card)
        assert kinds(card) == [T.HAND_OVER, T.REPORT_LOST_BY_PHONE]
        raise RuntimeError("the request failed after the service")
    assert kinds(card) == [T.HAND_OVER]


def test_the_set_based_insert_can_be_used_on_its_own(world, card_in):
    """notice_insert_sql as a caller with its own source relation would use it."""
    card = card_in(S.ISSUED)
    sql = (
        "WITH changes AS (SELECT %(card)s::bigint AS card_id, 'cancel'::text AS name, "
        "'issued'::text AS from_status, 'cancelled'::text AS to_status, %(now)s AS at, "
        "%(number)s::text AS card_number UNION ALL SELECT %(card)s, 'mark_ready', 'verified', "
        "'ready_for_collection', %(now)s, %(number)s) "
        + cardcenter.notice_insert_sql(source="changes")
    )
    # The source's card number as stored in cards_card: encrypted (common/crypto.py).
    number = crypto.encrypt(card.card_number, context="card_number")
    with connection.cursor() as cursor:
        cursor.execute(sql, {**cardcenter.notice_sql_params(T0), "card": card.pk, "number": number})
        ((notice_id, _card_id),) = cursor.fetchall()  # mark_ready is no notice
    notice = CardCenterNotice.objects.get(pk=notice_id)
    assert (notice.card_id, notice.kind, notice.bank_id) == (card.pk, T.CANCEL, world.bank.pk)
    assert notice.next_attempt_at == T0 and notice.notice_id is not None
    assert notice.card_number == card.card_number


# --- Delivered after the commit ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_notices_reach_the_receiver_signed_once_each_in_order(
    world, card_in, http_center, eager_celery
):
    with http_center.running() as receiver:
        card = card_in(S.ISSUED)
        with transaction.atomic():
            report_by_phone(world, card)
            assert len(receiver.received) == 1  # the hand-over; nothing before the commit
        services.card_withdraw_loss_report(
            card=card,
            actor=world.clerk,
            id_number=card.applicant.id_number,
            card_presented=True,
            reason="found",
        )
    notices = list(card.card_center_notices.order_by("id"))
    assert [r["body"]["id"] for r in receiver.received] == [str(n.notice_id) for n in notices]
    for received, notice in zip(receiver.received, notices, strict=True):
        headers = received["headers"]
        assert headers["X-Shebao-Notice-Id"] == str(notice.notice_id)
        assert verify_signature(
            secret=SECRET,
            timestamp=headers["X-Shebao-Timestamp"],
            body=received["raw"],
            signature=headers["X-Shebao-Signature"],
        )
        assert received["body"] == notice_document(notice)
        notice.refresh_from_db()
        assert notice.delivered_at is not None and notice.attempts == 1
    assert [b["kind"] for b in receiver.bodies()] == [
        T.HAND_OVER,
        T.REPORT_LOST_BY_PHONE,
        T.WITHDRAW_LOSS_REPORT,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_down_delays_the_notices_of_a_card_without_reordering_them(
    world, card_in, http_center, settings
):
    settings.CARD_CENTER_RETRY_BASE = datetime.timedelta(seconds=30)
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
        report_by_phone(world, card)
    first, second = card.card_center_notices.order_by("id")
    with time_machine.travel(T0, tick=False):
        assert notice_deliver(notice_id=first.pk) == "failed"  # nobody listens
        assert notice_deliver(notice_id=second.pk) == "waiting"  # the first is not delivered
        assert notice_redrive(grace=datetime.timedelta(0)) == []  # the first is not due yet
    first.refresh_from_db()
    assert first.attempts == 1 and "refused" in first.last_error.lower()
    assert first.next_attempt_at == T0 + datetime.timedelta(seconds=30)
    with http_center.running() as receiver:
        # One instant before its retry nothing goes; at the retry both go, in order.
        with time_machine.travel(first.next_attempt_at - datetime.timedelta(1e-6), tick=False):
            assert notice_deliver(notice_id=first.pk) == "not_due"
        with time_machine.travel(first.next_attempt_at, tick=False):
            assert notice_deliver(notice_id=first.pk) == "delivered"
            assert cardcenter.next_of_card(first.pk) == second.pk
            assert notice_deliver(notice_id=second.pk) == "delivered"
            assert notice_deliver(notice_id=first.pk) == "not_due"
    assert [b["id"] for b in receiver.bodies()] == [str(first.notice_id), str(second.notice_id)]


@pytest.mark.django_db(transaction=True)
def test_the_breaker_stops_attempts_to_a_dead_center_and_a_trial_closes_it(
    world, card_in, http_center, settings
):
    settings.DELIVERY_BREAKER_FAILURES = 2
    settings.DELIVERY_BREAKER_COOLDOWN = datetime.timedelta(seconds=30)
    settings.CARD_CENTER_RETRY_BASE = datetime.timedelta(0)
    card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    assert notice_deliver(notice_id=notice.pk) == "failed"
    assert notice_deliver(notice_id=notice.pk) == "failed"
    assert notice_deliver(notice_id=notice.pk) == "deferred"  # open: no attempt made
    notice.refresh_from_db()
    assert notice.attempts == 2
    state, until = delivery.Breaker("cardcenter").state()
    assert state == "open" and notice.next_attempt_at == until
    with http_center.running() as receiver:
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=31)
        with time_machine.travel(later, tick=False):
            assert notice_deliver(notice_id=notice.pk) == "delivered"  # the trial
    assert len(receiver.received) == 1
    assert delivery.Breaker("cardcenter").state() == ("closed", None)


@pytest.mark.django_db(transaction=True)
def test_a_destination_with_every_slot_taken_is_tried_again_shortly(
    world, card_in, http_center, settings
):
    settings.DELIVERY_CONCURRENCY_PER_DESTINATION = 1
    card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    db = connection.settings_dict
    # Another worker's delivery to the card center in flight: it holds the only slot.
    with (
        psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            dbname=db["NAME"],
        ) as other,
        http_center.running() as receiver,
    ):
        other.execute(
            "SELECT pg_advisory_lock(%s, %s)",
            [delivery._SLOT_NAMESPACE, delivery._slot_key("cardcenter", 0)],
        )
        assert notice_deliver(notice_id=notice.pk) == "deferred"
        notice.refresh_from_db()
        assert notice.attempts == 0 and receiver.received == []
        other.execute("SELECT pg_advisory_unlock_all()")
        with time_machine.travel(notice.next_attempt_at, tick=False):
            assert notice_deliver(notice_id=notice.pk) == "delivered"
    assert len(receiver.received) == 1


@pytest.mark.django_db(transaction=True)
def test_the_local_center_records_each_notice_once_and_the_sweeps_are_sent_after_commit(
    world, card_in, eager_celery
):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        report_by_phone(world, card)
    expire_batch(EXPIRIES[T.LAPSE_PHONE_REPORT], now=T0 + datetime.timedelta(hours=24))
    cache.delete("shebao:cardcenter:kick")
    notices = list(card.card_center_notices.order_by("id"))
    assert [n.kind for n in notices] == [T.HAND_OVER, T.REPORT_LOST_BY_PHONE, T.LAPSE_PHONE_REPORT]
    assert all(n.delivered_at is not None for n in CardCenterNotice.objects.all())
    receipts = CardCenterReceipt.objects.order_by("id")
    assert [r.notice_id for r in receipts] == [n.notice_id for n in notices]
    # Sent again (a retry after a lost answer): recorded once, counted twice.
    LocalTableCardCenter().send(notices[0], cardcenter.notice_body(notices[0]), {})
    first = CardCenterReceipt.objects.get(notice_id=notices[0].notice_id)
    assert first.times_received == 2 and CardCenterReceipt.objects.count() == 3
    assert first.body == json.loads(cardcenter.notice_body(notices[0]))


def test_delivery_refuses_to_run_inside_a_transaction(world, card_in):
    card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    with pytest.raises(RuntimeError):
        notice_deliver(notice_id=notice.pk)


# --- Visible to a supervisor --------------------------------------------------------------------


def test_a_supervisor_sees_the_backlog_per_destination(world, card_in):
    from agencies.services import bank_webhook_set
    from tests.admin.conftest import login

    bank_webhook_set(bank=world.bank, url="http://127.0.0.1:7599/hooks")
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
    CardCenterNotice.objects.filter(card=card).update(last_error="HTTP 503")
    page = login(world.supervisor).get("/admin/cards/cardcenternotice/?delivered=no")
    assert page.status_code == 200
    html = page.content.decode()
    table = html[html.index('id="deliveries"') : html.index("</table>")]
    assert "cardcenter" in table and "HTTP 503" in table and "bank:BOSC" in table
    assert "March 2, 2026" in table  # the oldest undelivered notice
    assert card.card_number in html  # the list itself
    assert login(world.clerk).get("/admin/cards/cardcenternotice/").status_code == 403


def test_the_redrive_queues_only_the_oldest_overdue_notice_of_each_card(world, card_in, person):
    from tests.cards.conftest import eligible_person

    with time_machine.travel(T0, tick=False):
        first = card_in(S.ISSUED)
        report_by_phone(world, first)
        second = card_in(S.ISSUED, eligible_person())
    heads = [
        first.card_center_notices.order_by("id").first().pk,
        second.card_center_notices.get().pk,
    ]
    grace = datetime.timedelta(seconds=30)
    with time_machine.travel(T0 + grace - datetime.timedelta(1e-6), tick=False):
        assert notice_redrive(grace=grace) == []  # their own tasks come first
    with time_machine.travel(T0 + grace, tick=False):
        assert notice_redrive(grace=grace, limit=1) == heads  # page by page, heads only


# --- The portable insert, an unconfigured center, the backlog, the tasks (issue #18) ----------


def test_the_portable_insert_writes_the_notices_the_statement_writes(world, card_in):
    """notices_bulk_create: the expiry sweeps' notices on SQLite (make run)."""
    issued = card_in(S.ISSUED)
    applied = submit(world, eligible_person())
    rows = [
        {"card": issued, "name": T.CANCEL, "from_status": S.ISSUED, "to_status": S.CANCELLED},
        {"card": applied, "name": T.VERIFY, "from_status": S.APPLIED, "to_status": S.VERIFIED},
        {"card": applied, "name": T.CANCEL, "from_status": S.APPLIED, "to_status": S.CANCELLED},
    ]
    later = T0 + datetime.timedelta(hours=3)
    gone = S.CANCELLED
    with time_machine.travel(later, tick=False):
        written = cardcenter.notices_bulk_create([{**row, "at": T0} for row in rows])
    assert len(written) == 2  # a verification changes no card's use
    got = [
        (n.card_id, n.kind, n.card_type, n.card_number, n.bank_id, n.from_status, n.to_status)
        for n in CardCenterNotice.objects.filter(pk__in=[n.pk for n in written]).order_by("id")
    ]
    assert got == [
        (
            issued.pk,
            T.CANCEL,
            issued.card_type,
            issued.card_number,
            world.bank.pk,
            S.ISSUED,
            gone,
        ),
        (applied.pk, T.CANCEL, applied.card_type, "", applied.bank_id, S.APPLIED, gone),
    ]
    assert {(n.at, n.created_at, n.next_attempt_at) for n in written} == {(T0, later, later)}


@pytest.mark.django_db(transaction=True)
def test_an_http_center_without_its_url_or_secret_delivers_nothing_and_says_why(
    world, card_in, settings
):
    settings.CARD_CENTER_BACKEND = "cards.cardcenter.HttpCardCenter"
    settings.CARD_CENTER_URL = ""
    settings.CARD_CENTER_SECRET = SECRET
    card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    assert notice_deliver(notice_id=notice.pk) == "failed"
    notice.refresh_from_db()
    assert notice.delivered_at is None and notice.attempts == 1
    assert notice.last_error == "CARD_CENTER_URL or CARD_CENTER_SECRET not set"


@pytest.mark.django_db(transaction=True)
def test_the_center_receives_the_card_by_its_public_id(world, card_in):
    card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    assert notice_deliver(notice_id=notice.pk) == "delivered"
    body = CardCenterReceipt.objects.get(notice_id=notice.notice_id).body
    assert body["card"] == str(card.public_id) and body["kind"] == T.HAND_OVER
    assert body["to"] == S.ISSUED and body["usable"] is True


def test_the_backlog_names_the_last_error_and_the_breaker(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
    assert cardcenter.notice_backlog() == {
        "destination": "cardcenter",
        "count": 1,
        "oldest": T0,
        "last_error": "",
        "breaker": ("closed", None),
    }
    CardCenterNotice.objects.filter(card=card).update(last_error="HTTP 503")
    assert cardcenter.notice_backlog()["last_error"] == "HTTP 503"


class DownBroker:
    def __init__(self, *tasks):
        self.tasks = tasks

    def __enter__(self):
        def refuse(*args, **kwargs):
            raise ConnectionError("broker down")

        for task in self.tasks:
            task.apply_async = refuse
        return self

    def __exit__(self, *exc):
        for task in self.tasks:
            del task.apply_async


def test_a_broker_down_is_logged_with_its_cause_and_the_next_kick_tries_again(caplog):
    cache.delete(cardcenter._KICK_KEY)
    with DownBroker(cardcenter.deliver_notice, cardcenter.redrive_notices):
        with caplog.at_level(logging.WARNING):
            cardcenter.enqueue_delivery(41)  # nothing raised: the re-drive sends it later
            cardcenter.kick()
        assert cache.add(cardcenter._KICK_KEY, 1, timeout=5)  # the failed kick left no key
    cache.delete(cardcenter._KICK_KEY)
    records = [r for r in caplog.records if r.name == "cards.cardcenter"]
    assert [r.getMessage() for r in records] == [
        "could not queue card-center notice 41",
        "could not queue the card-center re-drive",
    ]
    assert all(r.exc_info and r.exc_info[0] is ConnectionError for r in records)


def test_beats_redrive_keeps_a_pending_kick_and_waits_out_the_grace_a_kicked_one_does_not(
    world, card_in
):
    with time_machine.travel(T0, tick=False):
        card_in(S.ISSUED)
    cache.set(cardcenter._KICK_KEY, 1, timeout=60)
    try:
        with time_machine.travel(T0 + datetime.timedelta(seconds=1), tick=False):
            assert cardcenter.redrive_notices() == 0  # within the default grace: its task first
            assert cache.get(cardcenter._KICK_KEY) == 1  # beat's run is not the kicked one
            assert cardcenter.redrive_notices(grace_seconds=0, kicked=True) == 1
            assert cache.get(cardcenter._KICK_KEY) is None
    finally:
        cache.delete(cardcenter._KICK_KEY)


def test_the_tasks_are_acknowledged_after_they_ran_under_the_names_beat_uses():
    from cards.schedule import SCHEDULE

    assert cardcenter.deliver_notice.acks_late and cardcenter.redrive_notices.acks_late
    assert cardcenter.deliver_notice.name == "cards.cardcenter.deliver_notice"
    assert "cards.cardcenter.redrive_notices" in {e.task for e in SCHEDULE}
    assert cardcenter.redrive_notices.name == "cards.cardcenter.redrive_notices"
