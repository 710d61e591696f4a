"""The expiry sweeps and the supervisors' flags, called directly as units of work."""

import datetime
import io
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from cards import services, sweeps
from cards.choices import CardStatus, OverdueKind, TransitionName
from cards.models import Card, CardTransition, OutboxEvent, OverdueCount
from cards.schedule import SCHEDULE, sync_beat_schedule
from tests.cards.conftest import T0, eligible_person, report_by_phone
from tests.cards.due_cards import make_due_cards

S = CardStatus
T = TransitionName
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)


def lapse_rows(card) -> int:
    return CardTransition.objects.filter(card=card, name=T.LAPSE_PHONE_REPORT).count()


def test_due_rows_are_swept_and_one_second_short_are_not(world, card_in):
    due, short = card_in(S.ISSUED), card_in(S.ISSUED, applicant=eligible_person())
    with time_machine.travel(T0, tick=False):
        due = report_by_phone(world, due)
    with time_machine.travel(T0 + SECOND, tick=False):
        short = report_by_phone(world, short)
    with time_machine.travel(T0 + DAY, tick=False):
        result = sweeps.sweep(T.LAPSE_PHONE_REPORT)
    assert (result.expired, result.more) == (1, False)
    due.refresh_from_db()
    short.refresh_from_db()
    assert due.status == S.ISSUED and lapse_rows(due) == 1
    assert short.status == S.PHONE_REPORTED_LOST and lapse_rows(short) == 0
    event = OutboxEvent.objects.filter(card=due).order_by("id").last()
    assert (event.payload["from"], event.payload["to"]) == (S.PHONE_REPORTED_LOST, S.ISSUED)


def test_a_card_touched_by_a_clerk_in_the_same_second_is_transitioned_once(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = report_by_phone(world, card)
    with time_machine.travel(T0 + DAY, tick=False):
        card = services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
        assert sweeps.sweep(T.LAPSE_PHONE_REPORT).expired == 0
    assert lapse_rows(card) == 1
    names = list(card.transitions.order_by("id").values_list("name", flat=True))
    assert names[-2:] == [T.LAPSE_PHONE_REPORT, T.REPORT_LOST_IN_WRITING]


def test_written_reports_are_cancelled_at_30_days(world, card_in):
    card = card_in(S.ISSUED)
    with time_machine.travel(T0, tick=False):
        card = services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
    with time_machine.travel(T0 + 30 * DAY - SECOND, tick=False):
        assert sweeps.sweep(T.EXPIRE_WRITTEN_REPORT).expired == 0
    with time_machine.travel(T0 + 30 * DAY, tick=False):
        assert sweeps.sweep(T.EXPIRE_WRITTEN_REPORT).expired == 1
    card.refresh_from_db()
    assert card.status == S.CANCELLED and card.closed_at == T0 + 30 * DAY


def test_running_twice_changes_nothing_the_second_time(world):
    cards = make_due_cards(
        30, status=S.PHONE_REPORTED_LOST, first_deadline=T0, step=SECOND, point=world.county_medical
    )
    with time_machine.travel(T0 + DAY, tick=False):
        first = sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=7)
        second = sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=7)
    assert (first.expired, first.batches) == (30, 5)
    assert second.expired == 0
    assert CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).count() == 30
    assert set(
        Card.objects.filter(pk__in=[c.pk for c in cards]).values_list("status", flat=True)
    ) == {S.ISSUED}


def test_a_backlog_of_three_days_is_cleared_by_one_run_oldest_first(world):
    """The scheduler was down for 3 days: reports fell due every 10 minutes all that time."""
    start = T0
    make_due_cards(
        432,
        status=S.WRITTEN_LOST,
        first_deadline=start,
        step=datetime.timedelta(minutes=10),
        point=world.county_medical,
    )
    not_yet = make_due_cards(
        3,
        status=S.WRITTEN_LOST,
        first_deadline=start + 3 * DAY + SECOND,
        step=SECOND,
        point=world.county_medical,
        offset=1000,
    )
    with time_machine.travel(start + 3 * DAY, tick=False):
        result = sweeps.sweep(T.EXPIRE_WRITTEN_REPORT, batch_size=50)
    assert (result.expired, result.batches, result.more) == (432, 9, False)
    deadlines = list(
        CardTransition.objects.filter(name=T.EXPIRE_WRITTEN_REPORT)
        .order_by("id")
        .values_list("at", flat=True)
    )
    assert deadlines == sorted(deadlines) and len(deadlines) == 432
    assert deadlines[0] == start
    assert {c.status for c in Card.objects.filter(pk__in=[c.pk for c in not_yet])} == {
        S.WRITTEN_LOST
    }


def test_the_time_budget_stops_a_run_and_says_there_is_more(world, settings):
    make_due_cards(
        20, status=S.PHONE_REPORTED_LOST, first_deadline=T0, step=SECOND, point=world.county_medical
    )
    with time_machine.travel(T0 + DAY, tick=False):
        result = sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=5, time_budget=-1)
        assert (result.expired, result.more) == (5, True)
        assert sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=5).expired == 15


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_from_two_connections(world):
    make_due_cards(
        300,
        status=S.PHONE_REPORTED_LOST,
        first_deadline=T0,
        step=SECOND,
        point=world.county_medical,
    )
    results = []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=10, now=T0 + DAY))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.expired for r in results) == 300
    assert CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).count() == 300
    assert (
        CardTransition.objects.filter(name=T.LAPSE_PHONE_REPORT).values("card").distinct().count()
        == 300
    )
    assert not Card.objects.filter(status=S.PHONE_REPORTED_LOST).exists()


def test_expire_due_command_dry_run_changes_nothing(world):
    make_due_cards(
        4, status=S.PHONE_REPORTED_LOST, first_deadline=T0, step=SECOND, point=world.county_medical
    )
    out = io.StringIO()
    with time_machine.travel(T0 + DAY, tick=False):
        call_command("expire_due", "--dry-run", stdout=out)
        assert "lapse_phone_report: 4 due" in out.getvalue()
        assert Card.objects.filter(status=S.PHONE_REPORTED_LOST).count() == 4
        call_command("expire_due", "--only", "phone", stdout=out)
    assert "lapse_phone_report: 4 expired" in out.getvalue()
    assert not Card.objects.filter(status=S.PHONE_REPORTED_LOST).exists()


def test_the_beat_schedule_is_created_once_and_kept(db):
    from django_celery_beat.models import PeriodicTask

    assert len(sync_beat_schedule()) == len(SCHEDULE)
    assert sync_beat_schedule() == []
    sweep = PeriodicTask.objects.get(task="cards.tasks.sweep_phone_reports")
    assert (sweep.interval.every, sweep.expire_seconds) == (60, 55)
    sweep.enabled = False
    sweep.save()
    sweep.interval = None
    assert sync_beat_schedule() == []  # a supervisor's disabling is kept
    assert not PeriodicTask.objects.get(pk=sweep.pk).enabled
    daily = PeriodicTask.objects.get(task="cards.tasks.flag_overdue_work")
    assert (daily.crontab.hour, daily.crontab.minute, str(daily.crontab.timezone)) == (
        "0",
        "5",
        "Asia/Shanghai",
    )


def test_daily_flags_count_overdue_work_per_point(world, settings):
    from tests.cards.test_services import medical_card_at_street_point
    from tests.factories import EmploymentFactory

    with time_machine.travel(datetime.datetime(2026, 9, 25, 2, tzinfo=datetime.UTC), tick=False):
        medical_card_at_street_point(world)  # promised by Wed 30 September
        EmploymentFactory(start_date=datetime.date(2026, 8, 1), registered_on=None)
    with time_machine.travel(datetime.datetime(2026, 10, 9, 2, tzinfo=datetime.UTC), tick=False):
        totals = sweeps.flag_overdue_work()
        again = sweeps.flag_overdue_work()
    assert totals == again
    assert totals[OverdueKind.MEDICAL_PROMISE] == 1
    assert totals[OverdueKind.EMPLOYER_REGISTRATION] == 1
    assert totals[OverdueKind.VERIFICATION_WAITING] == 0
    row = OverdueCount.objects.get(kind=OverdueKind.MEDICAL_PROMISE)
    assert (row.service_point, row.count, row.day) == (
        world.street_medical,
        1,
        datetime.date(2026, 10, 9),
    )
    assert OverdueCount.objects.count() == 2  # the rerun replaced, did not add


def test_every_scheduled_task_can_be_sent_with_its_time_limits(settings):
    """Beat sends each entry with the task's own limits; Celery refuses to queue a task whose soft
    limit exceeds its hard one (it did for the counters' fold: 300 s hard under the 1500 s
    default soft limit), and beat then logs an error every minute instead of running it."""
    from config.celery import app

    app.loader.import_default_modules()
    for entry in SCHEDULE:
        task = app.tasks[entry.task]
        soft = task.soft_time_limit or settings.CELERY_TASK_SOFT_TIME_LIMIT
        hard = task.time_limit or settings.CELERY_TASK_TIME_LIMIT
        assert soft <= hard, (entry.task, soft, hard)
        assert hard < settings.CELERY_VISIBILITY_TIMEOUT, entry.task


def test_a_catch_up_pauses_between_full_batches_to_give_clerks_room(world, settings):
    import time

    settings.EXPIRY_SWEEP_PAUSE_SECONDS = 0.3
    make_due_cards(
        5, status=S.PHONE_REPORTED_LOST, first_deadline=T0, step=SECOND, point=world.county_medical
    )
    started = time.monotonic()
    with time_machine.travel(T0 + DAY, tick=False):
        result = sweeps.sweep(T.LAPSE_PHONE_REPORT, batch_size=2)
    assert (result.expired, result.batches) == (5, 3)
    assert time.monotonic() - started >= 0.6  # after each of the two full batches
