"""The deadlines and locks of the outboxes' way out (cards/delivery.py, cards/cardcenter.py), each
from both sides of its instant (issue #18): a notice's next attempt, the worker's lease, the
re-drive's and a card's next notice, the backoff and its cap, the breaker's threshold and
cooldown, the countdown limit of a scheduled attempt, and a 2xx answer. The breaker lives in Redis
and time_machine moves time.time() too, so its instants are frozen like the database's."""

from __future__ import annotations

import datetime
import logging
import threading
import zlib

import pytest
import time_machine
from django.db import connection

from cards import cardcenter, delivery
from cards.cardcenter import LocalTableCardCenter, next_of_card, notice_deliver
from cards.choices import CardStatus
from cards.delivery import Breaker, post_json, retry_delay, schedule
from cards.models import CardCenterNotice
from tests.cards.conftest import T0, report_by_phone
from tests.cards.receivers import Receiver, clear_breakers

S = CardStatus
TICK = datetime.timedelta(microseconds=1)
SECOND = datetime.timedelta(seconds=1)
DESTINATION = "cardcenter"


@pytest.fixture(autouse=True)
def _closed_breakers():
    clear_breakers()
    yield
    clear_breakers()


# --- The backoff ---------------------------------------------------------------------------------


def test_the_backoff_doubles_from_the_base_and_stops_at_the_cap():
    base, cap = datetime.timedelta(seconds=10), datetime.timedelta(seconds=40)
    delays = [retry_delay(n, base=base, cap=cap) for n in (0, 1, 2, 3, 4, 60)]
    assert delays == [base, base, 2 * base, cap, cap, cap]  # 40 s is reached exactly at 3
    # A cap one second above the third delay is not reached by it.
    assert retry_delay(3, base=base, cap=cap + SECOND) == cap


def test_the_card_centers_backoff_reads_its_settings(settings):
    settings.CARD_CENTER_RETRY_BASE = datetime.timedelta(seconds=7)
    settings.CARD_CENTER_RETRY_MAX = datetime.timedelta(seconds=20)
    assert [cardcenter.retry_delay(n).total_seconds() for n in (1, 2, 3)] == [7, 14, 20]


# --- The circuit breaker -------------------------------------------------------------------------


def test_the_breaker_opens_at_the_threshold_not_before(settings):
    settings.DELIVERY_BREAKER_FAILURES = 3
    breaker = Breaker(DESTINATION)
    with time_machine.travel(T0, tick=False):
        breaker.failed()
        breaker.failed()
        assert breaker.blocked_until() is None
        assert breaker.state() == ("closed", None)
        breaker.failed()
        assert breaker.blocked_until() == T0 + settings.DELIVERY_BREAKER_COOLDOWN


def test_a_success_resets_the_count_of_failures(settings):
    settings.DELIVERY_BREAKER_FAILURES = 2
    breaker = Breaker(DESTINATION)
    with time_machine.travel(T0, tick=False):
        breaker.failed()
        breaker.succeeded()
        breaker.failed()
        assert breaker.blocked_until() is None


def test_the_breaker_is_open_until_the_cooldown_ends_then_lets_one_trial_through(settings):
    settings.DELIVERY_BREAKER_FAILURES = 1
    cooldown = settings.DELIVERY_BREAKER_COOLDOWN
    breaker = Breaker(DESTINATION)
    with time_machine.travel(T0, tick=False):
        breaker.failed()
    # time.time() is a float: a millisecond is the finest step it keeps around 2026.
    before = T0 + cooldown - datetime.timedelta(milliseconds=1)
    with time_machine.travel(before, tick=False):
        assert breaker.blocked_until() == T0 + cooldown
        assert breaker.state() == ("open", T0 + cooldown)
    with time_machine.travel(T0 + cooldown, tick=False):
        assert breaker.state() == ("half-open", T0 + cooldown)
        assert breaker.blocked_until() is None  # the one trial
        # Everyone else waits a moment for the trial's outcome.
        assert breaker.blocked_until() == T0 + cooldown + delivery.SLOT_WAIT


def test_each_destination_has_its_own_breaker(settings):
    """A dead bank's breaker never stops the card center or another bank (mutation survivor: one
    key for every destination)."""
    settings.DELIVERY_BREAKER_FAILURES = 1
    with time_machine.travel(T0, tick=False):
        Breaker("bank:BOSC").failed()
        assert Breaker("bank:BOSC").blocked_until() is not None
        assert Breaker("bank:ICBC").blocked_until() is None
        assert Breaker(DESTINATION).blocked_until() is None


# --- Scheduling the next attempt -----------------------------------------------------------------


class RecordingTask:
    """Stands for the Celery task at the broker's edge: records what would be queued."""

    name = "recording"

    def __init__(self) -> None:
        self.queued: list[tuple[tuple, float, str]] = []

    def apply_async(self, args, *, countdown, queue):
        self.queued.append((args, countdown, queue))


TEN_MINUTES = datetime.timedelta(minutes=10)  # README: an ETA task is held ten minutes at most


def test_an_attempt_due_within_ten_minutes_is_queued_later_ones_are_left_to_the_redrive():
    task = RecordingTask()
    with time_machine.travel(T0, tick=False):
        schedule(task, 1, at=T0 + TEN_MINUTES, queue="q")
        schedule(task, 2, at=T0 + TEN_MINUTES + TICK, queue="q")
        schedule(task, 3, at=T0 - SECOND, queue="q")  # overdue: now, never a negative countdown
        schedule(task, 4, at=None, queue="q")  # delivered: nothing to schedule
    assert task.queued == [((1,), 600.0, "q"), ((3,), 0.0, "q")]


class UnreachableBroker(RecordingTask):
    def apply_async(self, args, *, countdown, queue):
        raise ConnectionError("broker down")


def test_an_attempt_the_broker_cannot_take_is_logged_and_left_to_the_redrive(caplog):
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.WARNING):
        schedule(UnreachableBroker(), 7, at=T0, queue="q")  # no exception: the re-drive queues it
    (record,) = [r for r in caplog.records if r.name == "cards.delivery"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "could not queue recording(7)"


# --- A 2xx answer is a delivery ------------------------------------------------------------------


def free_port_of_this_branch() -> int:
    """A port of 8180-8189 (this branch's) that nobody listens on now."""
    import socket

    for port in range(8180, 8190):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8180-8189")


@pytest.mark.parametrize(("status", "delivered"), [(200, True), (299, True), (300, False)])
def test_only_a_2xx_answer_is_a_delivery(status, delivered):
    with Receiver(port=free_port_of_this_branch(), statuses=[status]).running() as receiver:
        ok, answer = post_json(receiver.url(), b"{}", {}, connect_timeout=0.5, read_timeout=1.0)
    assert (ok, answer) == (delivered, f"HTTP {status}")
    if delivered:  # to the path of the URL as given
        assert [r["path"] for r in receiver.received] == ["/notices"]


# --- A notice's next attempt and the worker's lease (a real transaction per step) -----------------


class LeaseWatchingCenter(LocalTableCardCenter):
    """The local center that, while it is "sending", looks at the row as another worker would."""

    seen: list = []

    def send(self, notice, body, headers):
        row = CardCenterNotice.objects.get(pk=notice.pk)
        LeaseWatchingCenter.seen.append((row.next_attempt_at, notice_deliver(notice_id=notice.pk)))
        return super().send(notice, body, headers)


@pytest.fixture
def watched_center(settings):
    settings.CARD_CENTER_BACKEND = f"{__name__}.LeaseWatchingCenter"
    LeaseWatchingCenter.seen = []
    return LeaseWatchingCenter


@pytest.mark.django_db(transaction=True)
def test_a_notice_is_due_at_its_next_attempt_not_before(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
    (notice,) = card.card_center_notices.all()
    due = T0 + datetime.timedelta(minutes=5)
    CardCenterNotice.objects.filter(pk=notice.pk).update(next_attempt_at=due)
    assert not connection.in_atomic_block
    with time_machine.travel(due - TICK, tick=False):
        assert notice_deliver(notice_id=notice.pk) == "not_due"
    with time_machine.travel(due, tick=False):
        assert notice_deliver(notice_id=notice.pk) == "delivered"
    notice.refresh_from_db()
    assert notice.delivered_at == due and notice.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_while_a_worker_sends_a_notice_it_holds_a_lease_nobody_else_takes_it(
    world, card_in, watched_center
):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
        (notice,) = card.card_center_notices.all()
        assert notice_deliver(notice_id=notice.pk) == "delivered"
    # While sending, the row said "not before the lease ends", and a second worker got nothing.
    assert watched_center.seen == [(T0 + delivery.LEASE, "not_due")]


@pytest.mark.django_db(transaction=True)
def test_a_cards_next_notice_is_sent_once_it_is_due_and_the_older_one_delivered(world, card_in):
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
        report_by_phone(world, card)
    first, second = card.card_center_notices.order_by("id")
    due = T0 + datetime.timedelta(minutes=1)
    CardCenterNotice.objects.filter(pk=second.pk).update(next_attempt_at=due)
    with time_machine.travel(due, tick=False):
        # The older notice undelivered: the second waits for it, due or not.
        assert notice_deliver(notice_id=second.pk) == "waiting"
        assert notice_deliver(notice_id=first.pk) == "delivered"
    with time_machine.travel(due - TICK, tick=False):
        assert next_of_card(first.pk) is None
    with time_machine.travel(due, tick=False):
        assert next_of_card(first.pk) == second.pk


# --- A failed attempt is logged; a destination has its slot whatever its key ---------------------


class RefusingCenter(LocalTableCardCenter):
    """A card center that answers every notice with a 503."""

    def send(self, notice, body, headers):
        return False, "HTTP 503"


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_is_logged_with_its_number_and_no_personal_data(
    world, card_in, settings, caplog
):
    settings.CARD_CENTER_BACKEND = f"{__name__}.RefusingCenter"
    with time_machine.travel(T0, tick=False):
        card = card_in(S.ISSUED)
        (notice,) = card.card_center_notices.all()
        with caplog.at_level(logging.INFO):
            assert notice_deliver(notice_id=notice.pk) == "failed"
    (record,) = [r for r in caplog.records if r.name == "cards.delivery"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == f"card-center notice {notice.pk}: HTTP 503 (attempt 1)"
    assert card.applicant.id_number not in record.getMessage()


def a_destination_whose_slot_key_is_past_int4(slot: int = 0) -> str:
    """A destination whose CRC-32 (an unsigned 32-bit number) does not fit PostgreSQL's int4."""
    for n in range(1000):
        destination = f"bank:{n}"
        if zlib.crc32(f"{destination}#{slot}".encode()) >= 2**31:
            return destination
    raise AssertionError("no such destination in 1000")


@pytest.mark.django_db(transaction=True)
def test_a_destination_whose_key_is_past_int4_has_its_slot_and_a_second_worker_waits(settings):
    settings.DELIVERY_CONCURRENCY_PER_DESTINATION = 1
    destination = a_destination_whose_slot_key_is_past_int4()
    others: list[bool] = []

    def another_worker() -> None:
        try:
            with delivery.destination_slot(destination) as theirs:
                others.append(theirs)
        finally:
            connection.close()

    with delivery.destination_slot(destination) as mine:
        assert mine is True
        worker = threading.Thread(target=another_worker)
        worker.start()
        worker.join()
    worker = threading.Thread(target=another_worker)
    worker.start()
    worker.join()
    assert others == [False, True]  # its only slot was ours, then free again
