"""Reads of people, employers and employments."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from applicants.identity import normalise_id_number
from applicants.models import Applicant, Employer, Employment, id_number_index

# The supervisors' roll-up of employers (employer_overdue_rollup): how many employers it shows,
# and how far back a late registration still counts.
ROLLUP_LIMIT = 50
LATE_WINDOW_DAYS = 365


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


def overdue_q(on: datetime.date) -> Q:
    """Not registered for social insurance and the 30-day deadline passed (art. 58)."""
    return Q(registered_on__isnull=True, registration_deadline__lt=on)


def late_q(on: datetime.date) -> Q:
    """Registered after the deadline, within the last LATE_WINDOW_DAYS days before `on`."""
    return Q(
        registered_on__gt=F("registration_deadline"),
        registered_on__gte=on - datetime.timedelta(days=LATE_WINDOW_DAYS),
        registered_on__lte=on,
    )


def employment_overdue_list(*, on: datetime.date | None = None) -> QuerySet[Employment]:
    """Employments their employer has not registered for social insurance by the 30-day deadline
    (Social Insurance Law art. 58), oldest deadline first. An employment that ended without ever
    being registered stays listed: its end does not undo the breach (the employer still owes the
    registration and the contributions of the time worked). Read from the partial index of
    unregistered employments (employment_unregistered_idx)."""
    on = on or timezone.localdate()
    return (
        Employment.objects.filter(overdue_q(on))
        .select_related("employer", "applicant")
        .order_by("registration_deadline", "pk")
    )


@dataclass(frozen=True)
class EmployerOverdue:
    """One row of the supervisors' roll-up: an employer and its counts."""

    employer: Employer
    unregistered: int
    late: int


def employer_overdue_rollup(
    *,
    employments: QuerySet[Employment] | None = None,
    on: datetime.date | None = None,
    limit: int = ROLLUP_LIMIT,
) -> list[EmployerOverdue]:
    """Per employer, its employments still unregistered past the deadline and those registered
    late in the last LATE_WINDOW_DAYS days (art. 58), the most unregistered first; at most
    `limit` employers. `employments` is the desk's scope (all for the city). Only the rows of two
    partial indexes are read (employment_unregistered_idx, employment_late_idx), never the whole
    employment table; then one query for the employers shown."""
    on = on or timezone.localdate()
    base = Employment.objects.all() if employments is None else employments
    overdue, late = overdue_q(on), late_q(on)
    rows = list(
        base.filter(overdue | late)
        .order_by()
        .values("employer_id")
        .annotate(unregistered=Count("pk", filter=overdue), late=Count("pk", filter=late))
        .order_by("-unregistered", "-late", "employer_id")[:limit]
    )
    employers = Employer.objects.in_bulk([row["employer_id"] for row in rows])
    return [
        EmployerOverdue(employers[row["employer_id"]], row["unregistered"], row["late"])
        for row in rows
    ]
