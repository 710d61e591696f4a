"""Reads of cards. Every selector shows the state in force: a loss report whose deadline has passed
shows as lapsed or cancelled even before the scheduler has written it (PRODUCT.md)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.utils import timezone

from cards.choices import CardStatus
from cards.models import Card, CardTransition

S = CardStatus


def with_effective_status(
    queryset: QuerySet[Card], *, now: datetime.datetime | None = None
) -> QuerySet[Card]:
    """Annotate `effective_status`: the state at `now`, with passed deadlines applied."""
    now = now or timezone.now()
    return queryset.annotate(
        effective_status=Case(
            When(
                Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__lte=now),
                then=Value(S.ISSUED),
            ),
            When(
                Q(status=S.WRITTEN_LOST, written_report_expires_at__lte=now),
                then=Value(S.CANCELLED),
            ),
            When(
                Q(status=S.READY_FOR_COLLECTION, uncollected_cancels_at__lte=now),
                then=Value(S.CANCELLED),
            ),
            default=F("status"),
            output_field=CharField(),
        )
    )


def card_list(*, now: datetime.datetime | None = None) -> QuerySet[Card]:
    return with_effective_status(
        Card.objects.select_related("applicant", "bank", "service_point", "collection_point"),
        now=now,
    )


def card_filter_effective_status(
    queryset: QuerySet[Card], statuses: set[str], *, now: datetime.datetime | None = None
) -> QuerySet[Card]:
    return with_effective_status(queryset, now=now).filter(effective_status__in=statuses)


def card_history(*, card: Card) -> QuerySet[CardTransition]:
    return CardTransition.objects.filter(card=card).select_related(
        "actor_user", "bank", "service_point"
    )


HISTORY_PAGE = 50


def card_history_page(
    *, card: Card, before: int | None = None, size: int = HISTORY_PAGE
) -> tuple[list[CardTransition], int | None]:
    """One page of a card's log, newest first, by keyset on the (card, id) index: the rows and
    the id to continue before (None when this is the oldest page)."""
    rows = card_history(card=card).order_by("-id")
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (page[-1].pk if more else None)


# --- Overdue work, flagged to supervisors (the expiry jobs issue) -------------------------------


def overdue_q(name: str, *, now: datetime.datetime | None = None) -> Q:
    """The condition of one overdue list, each the range of its partial index:
    overdue_medical_promise, medical insurance cards a street medical insurance point promised
    within 3 working days and has not completed by the promised day; overdue_verification,
    applications waiting for verification longer than VERIFICATION_WAITING_LIMIT;
    overdue_uncollected, cards ready for collection and not collected for UNCOLLECTED_LIMIT
    (6 months); overdue_street_collection and expiring_next_month, as their lists below (the
    card list's `deadline` filter offers every list of OVERDUE_POINT_FIELD)."""
    now = now or timezone.now()
    if name == "overdue_medical_promise":
        return Q(status=S.VERIFIED, ready_promised_by__lt=timezone.localdate(now))
    if name == "overdue_verification":
        return Q(status=S.APPLIED, applied_at__lt=now - settings.VERIFICATION_WAITING_LIMIT)
    if name == "overdue_uncollected":
        return Q(status=S.READY_FOR_COLLECTION, ready_at__lt=now - settings.UNCOLLECTED_LIMIT)
    if name == "overdue_street_collection":
        return _street_collection_q(timezone.localdate(now))
    if name == "expiring_next_month":
        return _expiring_q(timezone.localdate(now))
    raise KeyError(name)


def _street_collection_q(on: datetime.date) -> Q:
    return Q(status=S.READY_FOR_COLLECTION, collect_by__isnull=False, collect_by__lt=on)


def _expiring_q(on: datetime.date) -> Q:
    start, end = month_after(on)
    return Q(status=S.ISSUED, expires_on__isnull=False, expires_on__gte=start, expires_on__lt=end)


def overdue_medical_promise(*, on: datetime.date | None = None) -> QuerySet[Card]:
    on = on or timezone.localdate()
    return (
        card_list()
        .filter(status=S.VERIFIED, ready_promised_by__lt=on)
        .order_by("ready_promised_by", "id")
    )


def overdue_verification(*, now: datetime.datetime | None = None) -> QuerySet[Card]:
    return (
        card_list().filter(overdue_q("overdue_verification", now=now)).order_by("applied_at", "id")
    )


def overdue_uncollected(*, now: datetime.datetime | None = None) -> QuerySet[Card]:
    return card_list().filter(overdue_q("overdue_uncollected", now=now)).order_by("ready_at", "id")


def overdue_street_collection(*, on: datetime.date | None = None) -> QuerySet[Card]:
    """Street medical insurance point cards not collected by their collect-by day (seed 001:
    "within the specified time", the rule set's street_collection_days)."""
    on = on or timezone.localdate()
    return card_list().filter(_street_collection_q(on)).order_by("collect_by", "id")


def month_after(on: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first day of the month after `on`'s, and of the one after that."""
    first = (on.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    return first, (first + datetime.timedelta(days=32)).replace(day=1)


def expiring_next_month(*, on: datetime.date | None = None) -> QuerySet[Card]:
    """Issued cards whose validity ends next month (their rule set's card_validity_years): the
    holders to invite for a renewal."""
    return card_list().filter(_expiring_q(on or timezone.localdate())).order_by("expires_on", "id")


# Which point's work each overdue list is (as cards.sweeps.flag_overdue_work counts them); each
# list of one point, or of the city, is a range of a partial index (cards.models.Card.Meta).
OVERDUE_POINT_FIELD = {
    "overdue_medical_promise": "collection_point_id",
    "overdue_verification": "service_point_id",
    "overdue_uncollected": "collection_point_id",
    "overdue_street_collection": "collection_point_id",
    "expiring_next_month": "collection_point_id",
}


def overdue_list(name: str, *, point_id: int | None = None) -> QuerySet[Card]:
    """One overdue list, of one service point (or of the city when `point_id` is None)."""
    queryset = {
        "overdue_medical_promise": overdue_medical_promise,
        "overdue_verification": overdue_verification,
        "overdue_uncollected": overdue_uncollected,
        "overdue_street_collection": overdue_street_collection,
        "expiring_next_month": expiring_next_month,
    }[name]()
    if point_id is not None:
        queryset = queryset.filter(**{OVERDUE_POINT_FIELD[name]: point_id})
    return queryset


def overdue_counts(*, day: datetime.date | None = None) -> QuerySet:
    """The daily counts written by cards.tasks.flag_overdue_work (latest day if not given)."""
    from cards.models import OverdueCount

    queryset = OverdueCount.objects.select_related("service_point")
    if day is None:
        latest = queryset.order_by("-day").values_list("day", flat=True).first()
        if latest is None:
            return queryset.none()
        day = latest
    return queryset.filter(day=day)
