"""Every write to people, employers, employments and enrolments."""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from applicants.choices import EnrolmentRoute
from applicants.models import Applicant, Employer, Employment, InsuranceEnrolment
from applicants.policy import enrolment_eligibility, person_facts
from common.errors import ApplicationError


def applicant_create(
    *,
    name: str,
    id_type: str,
    id_number: str,
    sex: str = "",
    birth_date: datetime.date | None = None,
    nationality: str = "CHN",
    shanghai_hukou: bool = False,
    hukou_place: str = "",
    phone: str = "",
    address: str = "",
) -> Applicant:
    """Create a person; the document number is validated and normalised, sex and birth date are
    derived from it where it holds them. One person per identity document."""
    applicant = Applicant(
        name=name.strip(),
        id_type=id_type,
        id_number=id_number,
        sex=sex,
        birth_date=birth_date,
        nationality=nationality,
        shanghai_hukou=shanghai_hukou,
        hukou_place=hukou_place.strip(),
        phone=phone.strip(),
        address=address.strip(),
    )
    applicant.apply_identity_document()
    if Applicant.objects.filter(id_type=applicant.id_type, id_number=applicant.id_number).exists():
        raise ApplicationError(
            _("A person with this identity document already exists."),
            code="duplicate_applicant",
            details={"id_number": [_("A person with this identity document already exists.")]},
        )
    try:
        with transaction.atomic():
            applicant.save()
    except IntegrityError as exc:  # a concurrent twin won the race
        raise ApplicationError(
            _("A person with this identity document already exists."),
            code="duplicate_applicant",
            details={"id_number": [_("A person with this identity document already exists.")]},
        ) from exc
    return applicant


def employer_create(
    *, name: str, uscc: str, kind: str, district: str = "", address: str = ""
) -> Employer:
    """Create an employer; the Unified Social Credit Code is validated (GB 32100)."""
    employer = Employer(name=name.strip(), uscc=uscc, kind=kind, district=district, address=address)
    employer.clean()
    if Employer.objects.filter(uscc=employer.uscc).exists():
        raise _duplicate_employer()
    try:
        with transaction.atomic():
            employer.save()
    except IntegrityError as exc:  # a concurrent twin won the race
        raise _duplicate_employer() from exc
    return employer


def _duplicate_employer() -> ApplicationError:
    message = _("An employer with this unified social credit code already exists.")
    return ApplicationError(message, code="duplicate_employer", details={"uscc": [message]})


def employment_create(
    *, applicant: Applicant, employer: Employer, start_date: datetime.date
) -> Employment:
    """Record an employment; its registration deadline is the start plus 30 days (art. 58)."""
    employment = Employment(applicant=applicant, employer=employer, start_date=start_date)
    employment.save()
    return employment


def employment_register(*, employment: Employment, registered_on: datetime.date) -> Employment:
    """The employer registered the employee for social insurance."""
    if registered_on < employment.start_date:
        raise ApplicationError(
            _("The registration date is before the start of employment."),
            code="invalid",
            details={
                "registered_on": [_("The registration date is before the start of employment.")]
            },
        )
    employment.registered_on = registered_on
    employment.save(update_fields=["registered_on"])
    return employment


def enrolment_create(
    *,
    applicant: Applicant,
    insurance: str,
    route: str,
    start_date: datetime.date,
    employment: Employment | None = None,
) -> InsuranceEnrolment:
    """Enrol a person in one insurance; refused with the policy's reasons (applicants.policy)."""
    answer = enrolment_eligibility(person_facts(applicant, on=start_date), insurance, route)
    if not answer:
        raise ApplicationError(
            " ".join(r.message for r in answer.reasons),
            code="not_eligible",
            details=answer.as_details(),
        )
    if route == EnrolmentRoute.EMPLOYER and (
        employment is None
        or employment.applicant_id != applicant.pk
        or not employment.is_active_on(start_date)
    ):
        raise ApplicationError(
            _("Enrolment through an employer names one of the person's current employments."),
            code="invalid",
            details={"employment": [_("Name one of the person's current employments.")]},
        )
    return InsuranceEnrolment.objects.create(
        applicant=applicant,
        insurance=insurance,
        route=route,
        employment=employment if route == EnrolmentRoute.EMPLOYER else None,
        start_date=start_date,
    )
