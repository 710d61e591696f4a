"""The scheduler's jobs (Celery beat + worker): expiry sweeps and supervisors' flags.

Tasks stay thin: each calls one function of cards/sweeps.py. Settings that make them safe to repeat
and to lose (config/settings/base.py, "Celery"): late acknowledgement, requeue when a pool child is
killed, time limits under the broker's visibility timeout, and each beat entry expires before its
next run (cards/schedule.py). The sweep itself is the safety net: it takes whatever is due, so a
lost or duplicated run changes nothing but timing.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection

from cards import sweeps
from cards.choices import TransitionName
from common import faults
from common.dbtimeouts import statement_timeout

logger = logging.getLogger(__name__)

# A sweep that loses its database retries after 2, 4, 8 ... seconds, at most a minute apart.
SWEEP_RETRY_BASE = 2
SWEEP_RETRY_MAX = 60
SWEEP_MAX_RETRIES = 8

SWEEP_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.EXPIRY_SWEEP_SOFT_TIME_LIMIT,
    "time_limit": settings.EXPIRY_SWEEP_SOFT_TIME_LIMIT + 60,
    "ignore_result": True,
}


def _sweep(task, name: str) -> int:
    try:
        with statement_timeout(settings.SWEEP_STATEMENT_TIMEOUT_MS):
            result = sweeps.sweep(name)
    except faults.DATABASE_ERRORS as exc:
        # The connection was lost (or a batch timed out): the batch in flight rolled back, the
        # committed ones stay. Retry soon with backoff rather than wait for beat's next run.
        connection.close()
        delay = min(SWEEP_RETRY_BASE * 2**task.request.retries, SWEEP_RETRY_MAX)
        logger.warning("sweep %s lost its database (%s); retry in %ss", name, exc, delay)
        raise task.retry(exc=exc, countdown=delay, max_retries=SWEEP_MAX_RETRIES) from exc
    except SoftTimeLimitExceeded:
        # The batch in flight rolled back; nothing is half-written. Go on in a fresh run.
        logger.warning("sweep %s hit its time limit; continuing in a new run", name)
        task.apply_async()
        return 0
    if result.more:
        task.apply_async()  # the time budget ran out before the backlog did
    return result.expired


@shared_task(bind=True, **SWEEP_OPTIONS)
def sweep_phone_reports(self) -> int:
    """phone_reported_lost -> issued for every phone report past its 24 hours."""
    return _sweep(self, TransitionName.LAPSE_PHONE_REPORT)


@shared_task(bind=True, **SWEEP_OPTIONS)
def sweep_written_reports(self) -> int:
    """written_lost -> cancelled for every written report past its 30 days."""
    return _sweep(self, TransitionName.EXPIRE_WRITTEN_REPORT)


@shared_task(bind=True, **SWEEP_OPTIONS)
def sweep_uncollected_cards(self) -> int:
    """ready_for_collection -> cancelled for every card past its rule set's uncollected period."""
    return _sweep(self, TransitionName.CANCEL_UNCOLLECTED)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def flag_overdue_work() -> dict[str, int]:
    """The daily counts of overdue work per service point (cards.models.OverdueCount)."""
    return sweeps.flag_overdue_work()


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=3000,
    time_limit=3300,  # < CELERY_VISIBILITY_TIMEOUT: a late-acked run is never redelivered mid-way
)
def reconcile_card_counts() -> int:
    """Prove the dashboard's counters (cards.counts) equal a full count and correct any drift;
    returns how many counters were corrected (a warning is logged when any were)."""
    from cards.counts import reconcile_counts

    return reconcile_counts().fixed


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300)
def compact_card_counts() -> int:
    """Fold the dashboard counters' delta rows into one row per key (cards.counts)."""
    from cards.counts import compact_counts

    return compact_counts()
