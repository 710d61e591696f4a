"""The beat schedule, defined once: created in django-celery-beat's tables by a migration and by
`manage.py sync_beat_schedule` (idempotent); visible and editable in the admin afterwards.

Each entry expires before its next run, so a backlog of stale runs (beat up, workers down) does
not pile up: the next run does the work anyway, because every job sweeps everything due.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: tuple[str, str] | None = None  # (minute, hour) in Asia/Shanghai
    expire_seconds: int = 55
    description: str = ""


SCHEDULE: tuple[Entry, ...] = (
    Entry(
        name="Lapse phone reports after 24 hours",
        task="cards.tasks.sweep_phone_reports",
        every_seconds=60,
        description="phone_reported_lost -> issued when the 24-hour pre-report passed.",
    ),
    Entry(
        name="Cancel cards 30 days after a written report",
        task="cards.tasks.sweep_written_reports",
        every_seconds=60,
        description="written_lost -> cancelled when the 30-day written report passed.",
    ),
    Entry(
        name="Cancel cards not collected in time",
        task="cards.tasks.sweep_uncollected_cards",
        every_seconds=300,
        expire_seconds=290,
        description="ready_for_collection -> cancelled when the rule set's uncollected period "
        "passed (shanghai-3rd-gen: 183 days; seed-2019: never).",
    ),
    Entry(
        name="Re-drive undelivered partner events",
        task="cards.webhooks.redrive_undelivered_events",
        every_seconds=60,
        description="Queues webhook deliveries that a lost task never made.",
    ),
    Entry(
        name="Re-drive undelivered card-center notices",
        task="cards.cardcenter.redrive_notices",
        every_seconds=60,
        description="Queues notices to the municipal information service center that are overdue.",
    ),
    Entry(
        name="Re-drive undelivered electronic card events",
        task="cards.electronic.redrive_events",
        every_seconds=60,
        description="Queues electronic card status events to the national platform that are "
        "overdue.",
    ),
    Entry(
        name="Flag overdue work for supervisors",
        task="cards.tasks.flag_overdue_work",
        crontab=("5", "0"),
        expire_seconds=6 * 3600,
        description="Daily counts of overdue employers, medical cards, verifications, uncollected.",
    ),
    Entry(
        name="Fold the dashboard's counter deltas",
        task="cards.tasks.compact_card_counts",
        every_seconds=60,
        description="One row per scope and state (or day) instead of one per change.",
    ),
    Entry(
        name="Reconcile the dashboard's card counters",
        task="cards.tasks.reconcile_card_counts",
        crontab=("40", "2"),
        expire_seconds=6 * 3600,
        description="Proves the per-point state and daily counters equal a full count; "
        "corrects any drift.",
    ),
    Entry(
        name="Forget partner idempotency keys after 24 hours",
        task="common.tasks.purge_idempotency_keys",
        crontab=("20", "3"),
        expire_seconds=6 * 3600,
        description="Deletes Idempotency-Key records older than their 24 hours.",
    ),
    Entry(
        name="Purge the login log after its retention",
        task="accounts.tasks.purge_login_events",
        crontab=("40", "3"),
        expire_seconds=6 * 3600,
        description="Deletes login-log rows older than LOGIN_AUDIT_RETENTION_DAYS (>= 6 months).",
    ),
    Entry(
        name="Anonymise people past their retention period",
        task="privacy.tasks.anonymise_past_retention",
        crontab=("10", "4"),
        expire_seconds=6 * 3600,
        description="PIPL art. 47: card-less people quiet for RETENTION_CARDLESS_YEARS, people "
        "whose cards all closed RETENTION_CLOSED_CARD_YEARS ago (privacy/retention.py).",
    ),
)


def sync_beat_schedule() -> list[str]:
    """Create or update django-celery-beat's entries from SCHEDULE; return the names changed.

    Idempotent. An entry a supervisor disabled in the admin stays disabled; its timing and task
    are put back as defined here.
    """
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    changed = []
    for entry in SCHEDULE:
        timing: dict = {"interval": None, "crontab": None}
        if entry.every_seconds:
            timing["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=entry.every_seconds, period=IntervalSchedule.SECONDS
            )
        else:
            minute, hour = entry.crontab
            timing["crontab"], _ = CrontabSchedule.objects.get_or_create(
                minute=minute,
                hour=hour,
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
        wanted = {
            "task": entry.task,
            "expire_seconds": entry.expire_seconds,
            "description": entry.description,
            **timing,
        }
        task = PeriodicTask.objects.filter(name=entry.name).first()
        if task is None:
            PeriodicTask.objects.create(name=entry.name, **wanted)
            changed.append(entry.name)
        elif any(getattr(task, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(task, key, value)
            task.save()
            changed.append(entry.name)
    return changed
