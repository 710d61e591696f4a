"""Reads of cards. Every selector shows the state in force: a loss report whose deadline has passed
shows as lapsed or cancelled even before the scheduler has written it (PRODUCT.md)."""

from __future__ import annotations

import datetime

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
