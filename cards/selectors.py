"""Reads of cards. Every selector shows the state in force: a loss report whose deadline has passed
shows as lapsed or cancelled even before the scheduler has written it (PRODUCT.md)."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.utils import timezone

from applicants.identity import normalise_id_number
from cards.choices import CardStatus
from cards.models import Card, CardTransition
from cards.numbers import normalise_receipt_number

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


def card_find(*, query: str) -> QuerySet[Card]:
    """A counter search: the holder's ID number, the receipt number or the card number, exact."""
    number = normalise_id_number(query)
    receipt = normalise_receipt_number(query)
    return card_list().filter(
        Q(applicant__id_number=number) | Q(receipt_number=receipt) | Q(card_number=number)
    )


def card_history(*, card: Card) -> QuerySet[CardTransition]:
    return CardTransition.objects.filter(card=card).select_related(
        "actor_user", "bank", "service_point"
    )


# --- Overdue work, flagged to supervisors (the expiry jobs issue) -------------------------------


def overdue_medical_promise(*, on: datetime.date | None = None) -> QuerySet[Card]:
    """Medical insurance cards a street medical insurance point promised within 3 working days and
    has not completed by the promised day."""
    on = on or timezone.localdate()
    return (
        card_list()
        .filter(status=S.VERIFIED, ready_promised_by__lt=on)
        .order_by("ready_promised_by", "id")
    )


def overdue_verification(*, now: datetime.datetime | None = None) -> QuerySet[Card]:
    """Applications waiting for verification longer than VERIFICATION_WAITING_LIMIT."""
    now = now or timezone.now()
    return (
        card_list()
        .filter(status=S.APPLIED, applied_at__lt=now - settings.VERIFICATION_WAITING_LIMIT)
        .order_by("applied_at", "id")
    )


def overdue_uncollected(*, now: datetime.datetime | None = None) -> QuerySet[Card]:
    """Cards ready for collection and not collected for UNCOLLECTED_LIMIT (6 months)."""
    now = now or timezone.now()
    return (
        card_list()
        .filter(status=S.READY_FOR_COLLECTION, ready_at__lt=now - settings.UNCOLLECTED_LIMIT)
        .order_by("ready_at", "id")
    )


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
