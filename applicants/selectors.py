"""Reads of people, employers and employments."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from applicants.identity import normalise_id_number
from applicants.models import Applicant, Employment, id_number_index


def applicant_get_by_document(*, id_number: str) -> Applicant | None:
    """The person with exactly this document number, whatever the document type (the counter
    search): one probe of the number's blind-index index (the number itself is stored
    encrypted); the first registered if two document types share the number. The one place that
    knows how a document number is stored and matched."""
    number = normalise_id_number(id_number)
    if not number:
        return None
    return Applicant.objects.filter(id_number_bidx=id_number_index(number)).order_by("pk").first()


def applicant_get(*, id_type: str, id_number: str) -> Applicant | None:
    number = normalise_id_number(id_number)
    if not number:
        return None
    return Applicant.objects.filter(id_type=id_type, id_number_bidx=id_number_index(number)).first()


def employment_overdue_list(*, on: datetime.date | None = None) -> QuerySet[Employment]:
    """Employments their employer has not registered for social insurance by the 30-day deadline
    (Social Insurance Law art. 58), oldest deadline first. An employment that has ended is not
    listed; a fixed-term one still running (an end date from `on`) is."""
    on = on or timezone.localdate()
    return (
        Employment.objects.filter(registered_on__isnull=True, registration_deadline__lt=on)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
        .select_related("employer", "applicant")
        .order_by("registration_deadline", "pk")
    )
