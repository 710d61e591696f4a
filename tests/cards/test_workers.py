"""Real Celery processes on the real Redis broker: a worker killed mid-sweep, and beat + worker
end to end. Slow by nature (process start-up): kept to what only real processes can show."""

import datetime
import re
import signal

import pytest
import time_machine
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardTransition
from cards.schedule import sync_beat_schedule
from cards.tasks import sweep_phone_reports
from tests.cards.conftest import report_by_phone
from tests.cards.due_cards import make_due_cards
from tests.cards.processes import kill, new_queue, purge, wait_for

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)


def lapsed() -> int:
    return CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).count()


def test_a_worker_killed_mid_sweep_leaves_every_card_swept_exactly_once(
    world, tmp_path, celery_processes
):
    start = celery_processes
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=30)
    cards = make_due_cards(
        400,
        status=S.PHONE_REPORTED_LOST,
        first_deadline=past,
        step=datetime.timedelta(seconds=1),
        point=world.county_medical,
    )
    queue, log = new_queue(), tmp_path / "workers.log"
    slow = {
        # Small paced batches, so that the kill lands mid-sweep.
        "EXPIRY_SWEEP_BATCH_SIZE": "10",
        "EXPIRY_SWEEP_PAUSE_SECONDS": "0.1",
        # A short visibility timeout, and (as in production) a run's time budget under it: a run
        # that is not done hands over to a fresh run instead of outliving the timeout.
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "EXPIRY_SWEEP_TIME_BUDGET": "1.5",
    }
    purge(queue)
    first = start("worker", queue, log, **slow)
    try:
        sweep_phone_reports.apply_async(queue=queue)
        wait_for(lambda: lapsed() >= 50, 60, "the first worker to sweep some cards", log)
        kill(first, signal.SIGKILL)
    finally:
        kill(first)
    before_kill = log.read_text()
    done_by_first = lapsed()
    assert 50 <= done_by_first < 400, "the kill must land in the middle of the sweep"

    second = start("worker", queue, log, **slow)
    try:
        # The unacknowledged message comes back after the visibility timeout.
        wait_for(lambda: lapsed() == 400, 90, "the redelivered sweep to finish", log)
    finally:
        kill(second, signal.SIGTERM)
    assert (
        CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).values("card").distinct().count()
        == 400
    )
    assert set(
        Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("status", flat=True)
    ) == {S.ISSUED}
    # The message the killed worker held was redelivered: its task id is received again.
    received = re.compile(r"Task cards\.tasks\.sweep_phone_reports\[([-\w]+)\] received")
    killed_task = received.findall(before_kill)[-1]
    assert killed_task in received.findall(log.read_text()[len(before_kill) :])


def test_beat_and_worker_lapse_a_due_phone_report_end_to_end(
    world, card_in, tmp_path, celery_processes
):
    start = celery_processes
    card = card_in(S.ISSUED)
    with time_machine.travel(datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=25)):
        card = report_by_phone(world, card)
    assert card.status == S.PHONE_REPORTED_LOST
    sync_beat_schedule()
    # Only the phone sweep, every second, so the test need not wait a minute.
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.exclude(task="cards.tasks.sweep_phone_reports").update(enabled=False)
    PeriodicTask.objects.filter(task="cards.tasks.sweep_phone_reports").update(
        interval=every_second, expire_seconds=5
    )
    queue, log = new_queue(), tmp_path / "beat.log"
    purge(queue)
    worker = start("worker", queue, log)
    beat = start("beat", queue, log)
    try:
        wait_for(lambda: Card.objects.get(pk=card.pk).status == S.ISSUED, 60, "beat + worker", log)
    finally:
        kill(beat, signal.SIGTERM)
        kill(worker, signal.SIGTERM)
    rows = list(card.transitions.order_by("id").values_list("name", "actor_kind"))
    assert rows[-1] == (T.LAPSE_PHONE_REPORT, "system")
    assert CardTransition.objects.filter(card=card, name=T.LAPSE_PHONE_REPORT).count() == 1
    assert PeriodicTask.objects.get(task="cards.tasks.sweep_phone_reports").total_run_count >= 1
