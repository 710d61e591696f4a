"""Deliveries through real Celery worker (and beat) processes to a real HTTP receiver: notices and
webhooks all arrive, once per id and in order per card, after the receiver was down and Redis was
restarted empty (our own redis-server on a port of this branch's range); one hanging bank delays
neither another bank nor the card center. Slow by nature (process start-up)."""

from __future__ import annotations

import contextlib
import datetime
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
import redis
import time_machine
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from agencies.choices import ServicePointKind
from agencies.services import bank_webhook_set
from cards import services, sweeps
from cards.actors import Actor
from cards.choices import CardStatus, CardType, TransitionName
from cards.models import CardCenterNotice, OutboxEvent
from cards.schedule import sync_beat_schedule
from cards.webhooks import webhook_redrive
from config.celery import app as celery_app
from tests.cards.conftest import (
    bring_to,
    card_number,
    eligible_person,
    report_by_phone,
    staff_actor,
    submit,
)
from tests.cards.processes import (
    CELERY,
    ROOT,
    kill,
    new_queue,
    process_env,
    purge,
    track,
    wait_for,
)
from tests.cards.receivers import Receiver, clear_breakers, free_port
from tests.factories import ServicePointFactory

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "card-center-test-secret"


@pytest.fixture(autouse=True)
def _closed_breakers():
    clear_breakers()
    yield
    clear_breakers()


def start_deliveries_worker(queues: list[str], log: Path, **extra: str) -> subprocess.Popen:
    """The `deliveries` worker of the Procfile: a threads pool on the delivery queues."""
    args = [CELERY, "-A", "config", "worker", "-Q", ",".join(queues), "--pool=threads"]
    args += ["--concurrency=4", "--without-mingle", "--without-gossip", "--loglevel=INFO"]
    args += ["-n", f"deliveries-{queues[0]}@%h"]
    handle = log.open("ab")
    return track(
        subprocess.Popen(
            args,
            cwd=ROOT,
            env=process_env(queues[0], **extra),
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )
    )


def start_beat(log: Path, **extra: str) -> subprocess.Popen:
    args = [CELERY, "-A", "config", "beat", "--loglevel=INFO", "--max-interval=1"]
    args += ["--scheduler=django_celery_beat.schedulers:DatabaseScheduler"]
    handle = log.open("ab")
    return track(
        subprocess.Popen(
            args,
            cwd=ROOT,
            env=process_env(new_queue(), **extra),
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )
    )


def start_redis(port: int, data_dir: Path) -> subprocess.Popen:
    """Our own Redis, without persistence: a restart comes back empty."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            shutil.which("redis-server"),
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(data_dir)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    track(process)
    client = redis.Redis(host="127.0.0.1", port=port)
    wait_for(lambda: _pings(client), 10, f"redis-server on port {port}")
    return process


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False


@contextlib.contextmanager
def producer_broker(url: str):
    """This test process queues its tasks (after each commit) on `url` instead of the shared
    Redis."""

    def reset():
        # Forget the pools, without closing them: kombu keeps one per broker URL and hands the
        # same one back when the URL is used again.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        celery_app.conf.broker_url = saved
        reset()


def redrive_every_second() -> None:
    """Beat runs only the two re-drives, every second (not every minute)."""
    sync_beat_schedule()
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    redrives = ("cards.webhooks.redrive_undelivered_events", "cards.cardcenter.redrive_notices")
    PeriodicTask.objects.exclude(task__in=redrives).update(enabled=False)
    PeriodicTask.objects.filter(task__in=redrives).update(interval=every_second, expire_seconds=5)


def test_every_notice_and_event_arrives_once_in_order_after_an_outage_and_an_empty_redis(
    world, tmp_path, settings
):
    redis_port = free_port(7540)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    receiver = Receiver(port=free_port(7560))
    queues = [new_queue(), new_queue()]
    tuning = {
        "REDIS_URL": redis_url,
        "WEBHOOK_QUEUE": queues[0],
        "CARD_CENTER_QUEUE": queues[1],
        "CARD_CENTER_BACKEND": "cards.cardcenter.HttpCardCenter",
        "CARD_CENTER_URL": receiver.url("/notices"),
        "CARD_CENTER_SECRET": SECRET,
        "CARD_CENTER_RETRY_BASE_SECONDS": "0.5",
        "CARD_CENTER_RETRY_MAX_SECONDS": "2",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "WEBHOOK_RETRY_MAX_SECONDS": "2",
        "WEBHOOK_MAX_ATTEMPTS": "1000",
        "DELIVERY_BREAKER_FAILURES": "3",
        "DELIVERY_BREAKER_COOLDOWN_SECONDS": "1",
        "DELIVERY_REDRIVE_GRACE_SECONDS": "1",
    }
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "shebao",
        }
    }
    settings.WEBHOOK_QUEUE, settings.CARD_CENTER_QUEUE = queues
    settings.CARD_CENTER_BACKEND = tuning["CARD_CENTER_BACKEND"]
    settings.CARD_CENTER_URL, settings.CARD_CENTER_SECRET = receiver.url("/notices"), SECRET
    log = tmp_path / "processes.log"
    processes: list[subprocess.Popen] = []
    try:
        processes.append(start_redis(redis_port, tmp_path / "redis-1"))
        with producer_broker(redis_url):
            # Cards with phone reports that fall due, before the bank has its webhook.
            past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)
            cards = [bring_to(world, submit(world, eligible_person()), S.ISSUED) for _ in range(4)]
            with time_machine.travel(past, tick=False):
                for card in cards[:3]:
                    report_by_phone(world, card)
            bank_webhook_set(bank=world.bank, url=receiver.url("/hooks"))
            assert webhook_redrive() == []  # the first scan: the bank's events from now on
            redrive_every_second()
            processes.append(start_deliveries_worker(queues, log, **tuning))
            processes.append(start_beat(log, **tuning))
            # The center and the bank are down: these are attempted, fail, and are retried.
            services.card_cancel(card=cards[3], actor=world.supervisor, reason="Left Shanghai.")
            sweeps.sweep(T.LAPSE_PHONE_REPORT)
            for card in cards[:3]:
                report_by_phone(world, card)
            wait_for(
                lambda: (
                    CardCenterNotice.objects.filter(attempts__gt=0).count() >= 4
                    and OutboxEvent.objects.filter(attempts__gt=0).count() >= 4
                ),
                60,
                "attempts against the receiver while it is down",
                log,
            )
            # Redis dies with the queued retries in it and comes back empty; so do the workers.
            for process in reversed(processes):
                kill(process, signal.SIGKILL)
            processes.clear()
            processes.append(start_redis(redis_port, tmp_path / "redis-2"))
            assert redis.Redis(host="127.0.0.1", port=redis_port).dbsize() == 0
            receiver.start()
            processes.append(start_deliveries_worker(queues, log, **tuning))
            processes.append(start_beat(log, **tuning))
            wait_for(
                lambda: (
                    not CardCenterNotice.objects.filter(delivered_at__isnull=True).exists()
                    and not OutboxEvent.objects.filter(
                        delivered_at__isnull=True, next_attempt_at__isnull=False
                    ).exists()
                ),
                90,
                "every notice and event to be delivered",
                log,
            )
    finally:
        for process in reversed(processes):
            kill(process, signal.SIGKILL)
        receiver.stop()

    notices = list(CardCenterNotice.objects.order_by("id"))
    assert len(notices) == 4 + 3 * 3 + 1  # hand-overs; phone, lapse, phone again; the cancel
    received = receiver.bodies("/notices")
    assert sorted(b["id"] for b in received) == sorted(str(n.notice_id) for n in notices)
    by_card = defaultdict(list)
    for body in received:
        by_card[body["card"]].append(body["id"])
    for card in cards:
        expected = [str(n.notice_id) for n in notices if n.card_id == card.pk]
        assert by_card[str(card.public_id)] == expected  # in order per card
    assert [b["kind"] for b in received if b["card"] == str(cards[0].public_id)] == [
        T.HAND_OVER,
        T.REPORT_LOST_BY_PHONE,
        T.LAPSE_PHONE_REPORT,
        T.REPORT_LOST_BY_PHONE,
    ]
    # The bank: the sweep's events (set-based, scheduled by the re-drive) and the others, once each.
    events = OutboxEvent.objects.filter(next_attempt_at__isnull=True, delivered_at__isnull=False)
    hooks = receiver.bodies("/hooks")
    assert sorted(b["id"] for b in hooks) == sorted(events.values_list("id", flat=True))
    assert sum(b["transition"] == "lapse_phone_report" for b in hooks) == 3


def test_a_hanging_bank_delays_neither_another_bank_nor_the_card_center(world, tmp_path, settings):
    hanging = Receiver(hang=("/hang",), hang_seconds=30)
    queues = [new_queue(), new_queue()]
    settings.WEBHOOK_QUEUE, settings.CARD_CENTER_QUEUE = queues
    tuning = {
        "WEBHOOK_QUEUE": queues[0],
        "CARD_CENTER_QUEUE": queues[1],
        "WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "20",
        "DELIVERY_CONCURRENCY_PER_DESTINATION": "2",
    }
    other_outlet = ServicePointFactory(
        code="IC01", kind=ServicePointKind.BANK_OUTLET, bank=world.other_bank
    )
    theirs = services.card_submit(
        applicant=eligible_person(),
        card_type=CardType.SOCIAL_SECURITY,
        actor=Actor.for_bank(world.other_bank),
        service_point=other_outlet,
    )
    services.card_verify(card=theirs, actor=staff_actor(other_outlet))
    ours = [bring_to(world, submit(world, eligible_person()), S.VERIFIED) for _ in range(6)]
    log = tmp_path / "worker.log"
    for queue in queues:
        purge(queue)
    worker = None
    with hanging.running():
        try:
            bank_webhook_set(bank=world.bank, url=hanging.url("/hang"))
            bank_webhook_set(bank=world.other_bank, url=hanging.url("/ok"))
            worker = start_deliveries_worker(queues, log, **tuning)
            for card in ours:
                services.card_mark_ready(
                    card=card, actor=world.bank_actor, card_number=card_number()
                )
            wait_for(lambda: hanging.hanging >= 2, 60, "deliveries to hang", log)
            time.sleep(1)  # every thread that would take a hanging delivery has taken it
            started = time.monotonic()
            theirs = services.card_mark_ready(
                card=theirs, actor=Actor.for_bank(world.other_bank), card_number=card_number()
            )
            wait_for(lambda: hanging.bodies("/ok"), 10, "the other bank's webhook", log)
            other_bank_after = time.monotonic() - started
            started = time.monotonic()
            theirs = services.card_hand_over(
                card=theirs,
                actor=Actor.for_bank(world.other_bank),
                id_number=theirs.applicant.id_number,
                receipt_number=theirs.receipt_number,
            )
            wait_for(
                lambda: CardCenterNotice.objects.filter(
                    card=theirs, delivered_at__isnull=False
                ).exists(),
                10,
                "the card center's notice",
                log,
            )
            center_after = time.monotonic() - started
        finally:
            if worker is not None:
                kill(worker, signal.SIGKILL)
            for queue in queues:
                purge(queue)
    assert other_bank_after < 5, other_bank_after
    assert center_after < 5, center_after
    assert [b["to"] for b in hanging.bodies("/ok")][:1] == [S.READY_FOR_COLLECTION]
    # At most two deliveries to the hanging bank at a time; its events wait, none is lost.
    assert hanging.hanging == 2
    assert not OutboxEvent.objects.filter(bank=world.bank, delivered_at__isnull=False).exists()


def test_a_failed_attempt_is_retried_at_its_own_backoff_without_the_redrive(
    world, card_in, tmp_path, settings
):
    """No beat runs: the second attempt of a webhook and of a notice comes from the task itself,
    one retry base (1 s) after the first failed."""
    receiver = Receiver(statuses={"/notices": [503], "/hooks": [500]})  # each fails once
    queues = [new_queue(), new_queue()]
    settings.WEBHOOK_QUEUE, settings.CARD_CENTER_QUEUE = queues
    settings.CARD_CENTER_BACKEND = "cards.cardcenter.HttpCardCenter"
    settings.CARD_CENTER_URL, settings.CARD_CENTER_SECRET = receiver.url("/notices"), SECRET
    tuning = {
        "WEBHOOK_QUEUE": queues[0],
        "CARD_CENTER_QUEUE": queues[1],
        "CARD_CENTER_BACKEND": settings.CARD_CENTER_BACKEND,
        "CARD_CENTER_URL": settings.CARD_CENTER_URL,
        "CARD_CENTER_SECRET": SECRET,
        "CARD_CENTER_RETRY_BASE_SECONDS": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
    }
    card = card_in(S.READY_FOR_COLLECTION)
    log = tmp_path / "worker.log"
    worker = None
    with receiver.running():
        try:
            bank_webhook_set(bank=world.bank, url=receiver.url("/hooks"))
            worker = start_deliveries_worker(queues, log, **tuning)
            card = services.card_hand_over(
                card=card,
                actor=world.bank_actor,
                id_number=card.applicant.id_number,
                receipt_number=card.receipt_number,
            )
            wait_for(lambda: len(receiver.received) == 2, 30, "both deliveries after a retry", log)
        finally:
            if worker is not None:
                kill(worker, signal.SIGKILL)
            for queue in queues:
                purge(queue)
    event = OutboxEvent.objects.get(card=card, payload__transition=T.HAND_OVER)
    notice = CardCenterNotice.objects.get(card=card)
    for row in (event, notice):
        assert row.attempts == 2 and row.delivered_at is not None
        assert 1 <= (row.delivered_at - row.created_at).total_seconds() < 10
    assert not PeriodicTask.objects.filter(enabled=True, total_run_count__gt=0).exists()
