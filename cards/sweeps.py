"""The scheduler's units of work, callable directly (tests, `manage.py expire_due`) or from the
Celery tasks in cards/tasks.py.

`sweep` clears every due deadline of one kind (a loss report, a card not collected in time),
oldest deadline first, in bounded batches: each batch is one transaction that claims its rows
with FOR UPDATE SKIP LOCKED (cards/expiry.py), so clerks' work on other cards is never blocked,
two sweeps at once never take the same card, and a sweep killed mid-way loses at most its
uncommitted batch, which the next run takes.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from applicants.selectors import employment_overdue_list
from cards import metrics, selectors
from cards.choices import OverdueKind
from cards.expiry import EXPIRIES, expire_batch
from cards.models import Card, OverdueCount

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepResult:
    expired: int
    batches: int
    more: bool  # stopped by the time budget with due rows left


def sweep(
    name: str,
    *,
    batch_size: int | None = None,
    time_budget: float | None = None,
    now: datetime.datetime | None = None,
) -> SweepResult:
    """Expire every due report of kind `name` (a TransitionName of cards.expiry.EXPIRIES).

    `now` is read afresh for each batch unless given, so a long catch-up also takes reports that
    fall due while it runs. Stops early, with `more=True`, when `time_budget` seconds are spent.
    """
    expiry = EXPIRIES[name]
    batch_size = batch_size or settings.EXPIRY_SWEEP_BATCH_SIZE
    time_budget = settings.EXPIRY_SWEEP_TIME_BUDGET if time_budget is None else time_budget
    pause = settings.EXPIRY_SWEEP_PAUSE_SECONDS
    started = time.monotonic()
    expired = batches = 0
    while True:
        ids = expire_batch(expiry, now=now or timezone.now(), limit=batch_size)
        expired += len(ids)
        metrics.swept(name, len(ids))  # this batch committed
        batches += 1
        if len(ids) < batch_size:
            more = False
            break
        if time.monotonic() - started > time_budget:
            more = True
            break
        if pause:
            time.sleep(pause)  # give clerks' transactions room during a huge catch-up
    if expired:
        logger.info("sweep %s: %d cards in %d batches", name, expired, batches)
    return SweepResult(expired=expired, batches=batches, more=more)


def due_counts(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """How many reports of each kind are due now (what a sweep would take), for --dry-run."""
    now = now or timezone.now()
    return {
        name: Card.objects.filter(
            status=expiry.source, **{f"{expiry.deadline_field}__lte": now}
        ).count()
        for name, expiry in EXPIRIES.items()
    }


def flag_overdue_work(*, day: datetime.date | None = None) -> dict[str, int]:
    """Write today's counts of overdue work per service point; rerunning replaces them."""
    day = day or timezone.localdate()
    by_point: dict[tuple[str, int | None], int] = Counter()
    card_lists = {
        OverdueKind.MEDICAL_PROMISE: (
            selectors.overdue_medical_promise(on=day),
            "collection_point",
        ),
        OverdueKind.VERIFICATION_WAITING: (selectors.overdue_verification(), "service_point"),
        OverdueKind.UNCOLLECTED: (selectors.overdue_uncollected(), "collection_point"),
        OverdueKind.STREET_COLLECTION: (
            selectors.overdue_street_collection(on=day),
            "collection_point",
        ),
        OverdueKind.EXPIRING: (selectors.expiring_next_month(on=day), "collection_point"),
    }
    for kind, (queryset, point_field) in card_lists.items():
        rows = queryset.order_by().values(point_field).annotate(n=Count("id"))
        for row in rows:
            by_point[(kind, row[point_field])] = row["n"]
    employers = employment_overdue_list(on=day).count()
    by_point[(OverdueKind.EMPLOYER_REGISTRATION, None)] = employers
    with transaction.atomic():
        OverdueCount.objects.filter(day=day).delete()
        OverdueCount.objects.bulk_create(
            OverdueCount(day=day, kind=kind, service_point_id=point, count=n)
            for (kind, point), n in by_point.items()
        )
    totals: dict[str, int] = Counter(dict.fromkeys(OverdueKind.values, 0))
    for (kind, _point), n in by_point.items():
        totals[kind] += n
    return dict(totals)
