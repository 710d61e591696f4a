"""Webhooks against a real HTTP receiver on 127.0.0.1: signed, retried with backoff, re-driven
when a task is lost, never sent inside a transaction, never to another bank."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
import time
from contextlib import contextmanager

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import transaction

from agencies.services import bank_webhook_set
from cards import services
from cards.choices import CardStatus, TransitionName
from cards.expiry import EXPIRIES, expire_batch
from cards.models import OutboxEvent
from cards.webhooks import (
    retry_delay,
    verify_signature,
    webhook_deliver,
    webhook_redrive,
)
from config.celery import app as celery_app
from tests.cards.conftest import T0, card_number, report_by_phone

S = CardStatus
pytestmark = pytest.mark.django_db(transaction=True)


class Receiver:
    """A bank's webhook endpoint: answers the statuses it is told to, in turn (then 200), and
    keeps what it received."""

    def __init__(self, statuses=(), delay: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.delay = delay
        self.received: list[dict] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/shebao"

    @contextmanager
    def running(self):
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


@pytest.fixture(autouse=True)
def _closed_breakers():
    """Each test starts with the banks' circuit breakers closed (their state is in Redis)."""
    from tests.cards.receivers import clear_breakers

    clear_breakers()
    yield
    clear_breakers()


@pytest.fixture
def eager_celery():
    """Tasks run where they are queued (after the commit), instead of in a worker."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def verified_signature(received: dict, secret: str) -> bool:
    headers = received["headers"]
    return verify_signature(
        secret=secret,
        timestamp=headers["X-Shebao-Timestamp"],
        body=received["body"],
        signature=headers["X-Shebao-Signature"],
    )


def test_an_event_is_delivered_signed_after_the_commit(world, card_in, eager_celery):
    card = card_in(S.VERIFIED)
    with Receiver().running() as receiver:
        bank = bank_webhook_set(bank=world.bank, url=receiver.url)
        with transaction.atomic():
            services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
            assert receiver.received == []  # nothing leaves before the commit
        (received,) = receiver.received
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    assert verified_signature(received, bank.webhook_secret)
    assert not verified_signature(received, "another secret")
    body = json.loads(received["body"])
    assert body == {"id": event.id, **event.payload}
    assert (body["card"], body["from"], body["to"]) == (
        str(card.public_id),
        S.VERIFIED,
        S.READY_FOR_COLLECTION,
    )
    assert received["headers"]["X-Shebao-Event-Id"] == str(event.id)
    event.refresh_from_db()
    assert event.delivered_at is not None and event.attempts == 1 and event.last_error == ""


def test_a_tampered_or_replayed_request_does_not_verify(world, card_in, eager_celery):
    card = card_in(S.VERIFIED)
    with Receiver().running() as receiver:
        bank = bank_webhook_set(bank=world.bank, url=receiver.url)
        services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
        (received,) = receiver.received
    tampered = {**received, "body": received["body"].replace(b"ready", b"reade")}
    assert not verified_signature(tampered, bank.webhook_secret)
    headers = received["headers"]
    later = int(headers["X-Shebao-Timestamp"]) + 301
    assert not verify_signature(
        secret=bank.webhook_secret,
        timestamp=headers["X-Shebao-Timestamp"],
        body=received["body"],
        signature=headers["X-Shebao-Signature"],
        now=later,
    )


def test_failures_are_retried_with_backoff_until_delivered(world, card_in, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    card = card_in(S.VERIFIED)
    with Receiver(statuses=[500, 503]).running() as receiver:
        bank_webhook_set(bank=world.bank, url=receiver.url)
        with time_machine.travel(T0, tick=False):
            services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
            event = OutboxEvent.objects.filter(card=card).order_by("id").last()
            assert event.next_attempt_at == T0
            assert webhook_deliver(event_id=event.id) == "failed"
            event.refresh_from_db()
            assert (event.attempts, event.last_error) == (1, "HTTP 500")
            assert event.next_attempt_at == T0 + retry_delay(1)
            assert webhook_redrive() == []  # not due yet
            assert webhook_deliver(event_id=event.id) == "not_due"
        with time_machine.travel(T0 + retry_delay(1), tick=False):
            # Its own task is due now; the re-drive takes it only once overdue by the grace.
            assert webhook_redrive() == []
            assert event.id in webhook_redrive(grace=datetime.timedelta(0))
            assert webhook_deliver(event_id=event.id) == "failed"
            event.refresh_from_db()
            assert (event.attempts, event.last_error) == (2, "HTTP 503")
            assert event.next_attempt_at == T0 + retry_delay(1) + retry_delay(2)
        with time_machine.travel(T0 + retry_delay(1) + retry_delay(2), tick=False):
            assert webhook_deliver(event_id=event.id) == "delivered"
        assert len(receiver.received) == 3
        assert len({r["headers"]["X-Shebao-Event-Id"] for r in receiver.received}) == 1
    event.refresh_from_db()
    assert event.attempts == 3 and event.delivered_at is not None and event.next_attempt_at is None
    assert retry_delay(1) == datetime.timedelta(seconds=30)
    assert retry_delay(2) == datetime.timedelta(seconds=60)
    assert retry_delay(30) == datetime.timedelta(hours=6)


def test_a_timeout_and_a_closed_port_are_failures_and_attempts_end(world, card_in, settings):
    settings.WEBHOOK_TIMEOUT = 0.3
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    card = card_in(S.VERIFIED)
    with Receiver(delay=1.0).running() as slow:
        bank_webhook_set(bank=world.bank, url=slow.url)
        services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
        event = OutboxEvent.objects.filter(card=card).order_by("id").last()
        assert webhook_deliver(event_id=event.id) == "failed"
    event.refresh_from_db()
    assert "timed out" in event.last_error.lower() or "timeout" in event.last_error.lower()
    closed = Receiver()
    closed.server.server_close()  # nobody listens there any more
    bank_webhook_set(bank=world.bank, url=closed.url)
    OutboxEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.created_at)
    assert webhook_deliver(event_id=event.id) == "gave_up"
    event.refresh_from_db()
    assert event.last_error.startswith("gave up: ")
    assert event.next_attempt_at is None and event.delivered_at is None
    assert webhook_redrive() == []


def test_a_lost_task_is_redriven(world, card_in, eager_celery):
    card = card_in(S.VERIFIED)
    with Receiver().running() as receiver:
        bank_webhook_set(bank=world.bank, url=receiver.url)
        celery_app.conf.task_always_eager = False
        # The queued task is lost: the broker is pointed nowhere for this commit.
        from cards import webhooks

        real = webhooks.deliver_event.apply_async
        webhooks.deliver_event.apply_async = lambda *args, **kwargs: None
        try:
            services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
        finally:
            webhooks.deliver_event.apply_async = real
        assert receiver.received == []
        celery_app.conf.task_always_eager = True
        event = OutboxEvent.objects.filter(card=card).order_by("id").last()
        assert webhook_redrive() == []  # its own task may still come
        grace = django_settings.DELIVERY_REDRIVE_GRACE
        with time_machine.travel(event.next_attempt_at + grace, tick=False):
            assert webhook_redrive() == [event.id]
        assert len(receiver.received) == 1
        assert webhook_redrive() == []  # delivered: nothing left to re-drive


def test_events_of_the_expiry_sweep_are_scheduled_by_the_redrive(world, card_in, eager_celery):
    card = card_in(S.ISSUED)
    with Receiver().running() as receiver:
        with time_machine.travel(T0, tick=False):
            report_by_phone(world, card)
        bank_webhook_set(bank=world.bank, url=receiver.url)
        assert webhook_redrive() == []  # the scan starts from now, not from the bank's history
        deadline = T0 + datetime.timedelta(hours=24)
        with time_machine.travel(deadline, tick=False):
            expire_batch(EXPIRIES[TransitionName.LAPSE_PHONE_REPORT], now=deadline)
        lapse = OutboxEvent.objects.get(card=card, payload__transition="lapse_phone_report")
        assert lapse.next_attempt_at is None  # written by SQL: nobody queued it
        webhook_redrive()
        bodies = [json.loads(r["body"]) for r in receiver.received]
        assert [b["id"] for b in bodies if b["transition"] == "lapse_phone_report"] == [lapse.id]
        # Events from before the bank had a webhook are not sent; the feed has them.
        assert {b["transition"] for b in bodies} == {"lapse_phone_report"}


def test_a_bank_receives_only_its_own_events(world, card_in, other_outlet, eager_celery):
    from cards.actors import Actor
    from cards.choices import CardType
    from tests.cards.conftest import eligible_person, staff_actor

    with Receiver().running() as ours, Receiver().running() as theirs:
        bank_webhook_set(bank=world.bank, url=ours.url)
        bank_webhook_set(bank=world.other_bank, url=theirs.url)
        mine = card_in(S.VERIFIED)
        other = services.card_submit(
            applicant=eligible_person(),
            card_type=CardType.SOCIAL_SECURITY,
            actor=Actor.for_bank(world.other_bank),
            service_point=other_outlet,
        )
        services.card_verify(card=other, actor=staff_actor(other_outlet))
        webhook_redrive()
    assert {json.loads(r["body"])["card"] for r in ours.received} == {str(mine.public_id)}
    assert {json.loads(r["body"])["card"] for r in theirs.received} == {str(other.public_id)}


def test_delivery_refuses_to_run_inside_a_transaction(world, card_in):
    card = card_in(S.VERIFIED)
    bank_webhook_set(bank=world.bank, url="http://127.0.0.1:9/")
    services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    event = OutboxEvent.objects.filter(card=card).order_by("id").last()
    with pytest.raises(RuntimeError), transaction.atomic():
        webhook_deliver(event_id=event.id)


def test_sweep_events_are_pushed_although_redis_lost_everything(world, person, eager_celery):
    """The triage's position is kept in PostgreSQL: with Redis emptied after a later event was
    delivered, the sweep's events are still found and pushed (they were all lost before)."""
    from django.core.cache import cache

    from cards.models import DeliveryCursor
    from tests.cards.conftest import bring_to, card_number, eligible_person, submit

    cards = [bring_to(world, submit(world, eligible_person()), S.ISSUED) for _ in range(3)]
    with Receiver().running() as receiver:
        with time_machine.travel(T0, tick=False):
            for card in cards:
                report_by_phone(world, card)
        bank_webhook_set(bank=world.bank, url=receiver.url)
        assert webhook_redrive() == []  # the first scan: from now on
        deadline = T0 + datetime.timedelta(hours=24)
        expire_batch(EXPIRIES[TransitionName.LAPSE_PHONE_REPORT], now=deadline)
        # A later event is delivered at once (it has the highest id of all).
        later = bring_to(world, submit(world, person), S.VERIFIED)
        services.card_mark_ready(card=later, actor=world.bank_actor, card_number=card_number())
        assert {json.loads(r["body"])["card"] for r in receiver.received} == {str(later.public_id)}
        cache.delete_many(["shebao:webhooks:triaged-up-to"])  # what an empty Redis would hold
        webhook_redrive()
    lapses = OutboxEvent.objects.filter(payload__transition="lapse_phone_report")
    assert lapses.count() == 3 and not lapses.filter(delivered_at__isnull=True).exists()
    pushed = [json.loads(r["body"]) for r in receiver.received]
    assert sorted(b["card"] for b in pushed if b["transition"] == "lapse_phone_report") == sorted(
        str(card.public_id) for card in cards
    )
    assert DeliveryCursor.objects.get(name="webhooks.triage").position >= max(
        lapses.values_list("id", flat=True)
    )
