"""Every write to people, employers, employments and enrolments.

Each change to a person, an employment or an enrolment writes its audit row (privacy.audit:
what, by whom, through which channel, before and after) in the same transaction. `actor` is who
acts (cards.actors.Actor); None is the system (the demo seed, a scheduled job).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applicants.choices import FOREIGN_NATIONAL_DOCUMENTS, EmployerKind, EnrolmentRoute
from applicants.identity import (
    identity_contradictions,
    phone_checked,
    validate_identity_document,
    validate_uscc,
)
from applicants.models import (
    Applicant,
    Employer,
    Employment,
    InsuranceEnrolment,
    same_document,
)
from applicants.policy import enrolment_eligibility, person_facts
from common.errors import ApplicationError
from privacy.audit import AuditActor, differences, person_change_record
from privacy.choices import ChangeAction

# The fields of a person the audit compares and the admin may correct (the document itself is the
# person's identity: never changed, a new document is a new person).
PERSON_FIELDS = (
    "name",
    "sex",
    "birth_date",
    "nationality",
    "shanghai_hukou",
    "hukou_place",
    "phone",
    "address",
)


def _snapshot(applicant: Applicant, fields=PERSON_FIELDS) -> dict:
    return {field: getattr(applicant, field) for field in fields}


def applicant_create(
    *,
    name: str,
    id_type: str,
    id_number: str,
    id_issuing_country: str = "",
    sex: str = "",
    birth_date: datetime.date | None = None,
    nationality: str = "CHN",
    shanghai_hukou: bool = False,
    hukou_place: str = "",
    phone: str = "",
    address: str = "",
    actor: AuditActor | None = None,
) -> Applicant:
    """Create a person; the document number is validated and normalised, sex and birth date are
    derived from it where it holds them. One person per identity document. A phone, if given,
    is one a clerk can call (applicants.identity.phone_checked)."""
    phone = phone.strip()
    if phone:
        try:
            phone = phone_checked(phone)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from None
    applicant = Applicant(
        name=name.strip(),
        id_type=id_type,
        id_number=id_number,
        id_issuing_country=id_issuing_country,
        sex=sex,
        birth_date=birth_date,
        nationality=nationality,
        shanghai_hukou=shanghai_hukou,
        hukou_place=hukou_place.strip(),
        phone=phone,
        address=address.strip(),
    )
    applicant.apply_identity_document()
    document = same_document(applicant.id_type, applicant.id_number, applicant.id_issuing_country)
    if Applicant.objects.filter(**document).exists():
        raise ApplicationError(
            _("A person with this identity document already exists."),
            code="duplicate_applicant",
            details={"id_number": [_("A person with this identity document already exists.")]},
        )
    try:
        with transaction.atomic():
            applicant.save()
            person_change_record(
                actor=actor,
                applicant_id=applicant.pk,
                action=ChangeAction.CREATE,
                obj=applicant,
                values={
                    field: [None, value]
                    for field, value in _snapshot(
                        applicant, ("id_type", "id_number", *PERSON_FIELDS)
                    ).items()
                    if value not in ("", None)
                },
            )
    except IntegrityError as exc:  # a concurrent twin won the race
        raise ApplicationError(
            _("A person with this identity document already exists."),
            code="duplicate_applicant",
            details={"id_number": [_("A person with this identity document already exists.")]},
        ) from exc
    return applicant


def applicant_update(*, applicant: Applicant, actor: AuditActor, **fields) -> Applicant:
    """Correct a person's record (a clerk, with the documents in hand): the fields given replace the
    recorded ones, validated as on creation; the change is audited with its values before and
    after. Only PERSON_FIELDS may be given; nothing changed writes nothing."""
    unknown = set(fields) - set(PERSON_FIELDS)
    if unknown:
        raise ValueError(f"not a correctable field: {sorted(unknown)}")
    with transaction.atomic():
        person = Applicant.objects.select_for_update().get(pk=applicant.pk)
        before = _snapshot(person)
        for field, value in fields.items():
            setattr(person, field, value.strip() if isinstance(value, str) else value)
        person.apply_identity_document()  # ValidationError naming the field
        values = differences(before, _snapshot(person))
        if values:
            person.save(update_fields=[*values, "updated_at"])
            person_change_record(
                actor=actor,
                applicant_id=person.pk,
                action=ChangeAction.UPDATE,
                obj=person,
                values=values,
            )
    return person


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


EMPLOYMENT_START_AHEAD = datetime.timedelta(days=366)


def _start_checked(applicant: Applicant, start_date: datetime.date, what) -> None:
    """An employment or an enrolment starts neither before the person was born nor more than
    EMPLOYMENT_START_AHEAD from today (recorded ahead of its start is allowed; a typed year 9999
    is not). Refused naming `start_date`."""
    last = timezone.localdate() + EMPLOYMENT_START_AHEAD
    message = None
    if applicant.birth_date and start_date < applicant.birth_date:
        message = _("%(what)s is before the person was born (%(born)s).") % {
            "what": what,
            "born": applicant.birth_date.isoformat(),
        }
    elif start_date > last:
        message = _("%(what)s is at most a year from today (%(last)s).") % {
            "what": what,
            "last": last.isoformat(),
        }
    if message:
        raise ApplicationError(message, code="invalid", details={"start_date": [message]})


def employment_create(
    *,
    applicant: Applicant,
    employer: Employer,
    start_date: datetime.date,
    actor: AuditActor | None = None,
) -> Employment:
    """Record an employment; its registration deadline is the start plus 30 days (art. 58).
    It starts neither before the person was born nor more than EMPLOYMENT_START_AHEAD from today
    (an employment recorded ahead of its start is allowed; a typed year 9999 is not)."""
    _start_checked(applicant, start_date, _("The start of employment"))
    with transaction.atomic():
        employment = Employment(applicant=applicant, employer=employer, start_date=start_date)
        employment.save()
        person_change_record(
            actor=actor,
            applicant_id=applicant.pk,
            action=ChangeAction.EMPLOYMENT_CREATE,
            obj=employment,
            values={
                "employer": [None, employer.uscc],
                "start_date": [None, start_date],
            },
        )
    return employment


def employment_register(
    *,
    employment: Employment,
    registered_on: datetime.date,
    actor: AuditActor | None = None,
) -> Employment:
    """The employer registered the employee for social insurance."""
    if registered_on < employment.start_date:
        raise ApplicationError(
            _("The registration date is before the start of employment."),
            code="invalid",
            details={
                "registered_on": [_("The registration date is before the start of employment.")]
            },
        )
    with transaction.atomic():
        before = employment.registered_on
        employment.registered_on = registered_on
        employment.save(update_fields=["registered_on"])
        person_change_record(
            actor=actor,
            applicant_id=employment.applicant_id,
            action=ChangeAction.EMPLOYMENT_REGISTER,
            obj=employment,
            values={"registered_on": [before, registered_on]},
        )
    return employment


def enrolment_create(
    *,
    applicant: Applicant,
    insurance: str,
    route: str,
    start_date: datetime.date,
    employment: Employment | None = None,
    actor: AuditActor | None = None,
) -> InsuranceEnrolment:
    """Enrol a person in one insurance; refused with the policy's reasons (applicants.policy).
    It starts within the bounds of `_start_checked`."""
    _start_checked(applicant, start_date, _("The start of the enrolment"))
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
    with transaction.atomic():
        enrolment = InsuranceEnrolment.objects.create(
            applicant=applicant,
            insurance=insurance,
            route=route,
            employment=employment if route == EnrolmentRoute.EMPLOYER else None,
            start_date=start_date,
        )
        person_change_record(
            actor=actor,
            applicant_id=applicant.pk,
            action=ChangeAction.ENROLMENT_CREATE,
            obj=enrolment,
            values={
                "insurance": [None, insurance],
                "route": [None, route],
                "employment": [None, enrolment.employment_id],
                "start_date": [None, start_date],
            },
        )
    return enrolment


# --- A person arriving with an application form (a partner bank's API) -----------------------

# The identity fields a form must agree on with the person on record; compared, never overwritten
# from a form (a clerk corrects a person's record, with the documents in hand).
FORM_IDENTITY_FIELDS = ("name", "sex", "birth_date", "nationality", "shanghai_hukou", "hukou_place")


def _same(recorded, given) -> bool:
    if isinstance(recorded, str):
        return " ".join(recorded.split()) == " ".join(str(given).split())
    return recorded == given


def applicant_find_or_create(
    *,
    name: str,
    id_type: str,
    id_number: str,
    id_issuing_country: str = "",
    sex: str = "",
    birth_date: datetime.date | None = None,
    nationality: str = "CHN",
    shanghai_hukou: bool = False,
    hukou_place: str = "",
    phone: str = "",
    address: str = "",
    actor: AuditActor | None = None,
) -> tuple[Applicant, bool]:
    """The person with this identity document, or a new one made from the form; (person, created).

    For a person on record, the form's identity fields must be the recorded ones: a difference is
    refused (code `applicant_differs`, naming the fields, never the recorded values), because the
    registry check at verification reads the record. A phone or address given on the form
    replaces the recorded one, as an audited change (privacy.PersonChange, action
    `contact_from_application`, naming the bank or clerk, the channel, and the values before and
    after): the form is the person's own latest, given in person or after real-name verification,
    and the audit lets the auditor see which bank changed whose contact and a counter put a wrong
    one right. Never silent.
    """
    facts = validate_identity_document(id_type, id_number)
    contradictions = identity_contradictions(facts, sex=sex, birth_date=birth_date)
    if contradictions:
        raise ApplicationError(
            " ".join(contradictions.values()),
            code="invalid",
            details={field: [message] for field, message in contradictions.items()},
        )
    # A passport is one person's by (issuing country, number); the country defaults to the
    # nationality, as Applicant.apply_identity_document does.
    document = same_document(id_type, facts.number, id_issuing_country or nationality)
    person = Applicant.objects.filter(**document).first()
    if person is None:
        try:
            return (
                applicant_create(
                    name=name,
                    id_type=id_type,
                    id_number=facts.number,
                    id_issuing_country=id_issuing_country,
                    sex=sex,
                    birth_date=birth_date,
                    nationality=nationality,
                    shanghai_hukou=shanghai_hukou,
                    hukou_place=hukou_place,
                    phone=phone,
                    address=address,
                    actor=actor,
                ),
                True,
            )
        except ApplicationError as exc:
            if exc.code != "duplicate_applicant":
                raise
            person = Applicant.objects.get(**document)
    # What the form says, as the record would hold it; sex and birth date read from the number
    # are the record's by construction.
    form: dict = {"name": name.strip(), "shanghai_hukou": shanghai_hukou}
    if hukou_place.strip():
        form["hukou_place"] = hukou_place.strip()
    if sex and not facts.sex:
        form["sex"] = sex
    if birth_date is not None and not facts.birth_date:
        form["birth_date"] = birth_date
    if id_type in FOREIGN_NATIONAL_DOCUMENTS:
        form["nationality"] = (nationality or "").strip().upper()
    differing = [
        field
        for field in FORM_IDENTITY_FIELDS
        if field in form and not _same(getattr(person, field), form[field])
    ]
    if differing:
        message = _("The form differs from the person on record; a service point corrects it.")
        raise ApplicationError(
            message,
            code="applicant_differs",
            details={field: [_("Differs from the person on record.")] for field in differing},
        )
    contact = {
        field: value
        for field, value in (("phone", phone.strip()), ("address", address.strip()))
        if value and getattr(person, field) != value
    }
    if contact:
        with transaction.atomic():
            person = Applicant.objects.select_for_update().get(pk=person.pk)
            values = differences(_snapshot(person, tuple(contact)), contact)
            if values:
                for field, value in contact.items():
                    setattr(person, field, value)
                person.save(update_fields=[*values, "updated_at"])
                person_change_record(
                    actor=actor,
                    applicant_id=person.pk,
                    action=ChangeAction.CONTACT_FROM_APPLICATION,
                    obj=person,
                    values=values,
                )
    return person, False


def employment_find_or_create(
    *,
    applicant: Applicant,
    uscc: str,
    employer_name: str = "",
    employer_kind: str = "",
    start_date: datetime.date | None = None,
    on: datetime.date | None = None,
    actor: AuditActor | None = None,
) -> Employment:
    """The person's current employment with the employer of this unified social credit code, or a
    new one as the form declares it (the employer is created too if unknown).

    Only the employment is recorded: insurance enrolment is the employer's registration (Social
    Insurance Law art. 58), never inferred from a card application. A new employment starts the
    employer's 30-day registration deadline like any other.
    """
    on = on or timezone.localdate()
    try:
        code = validate_uscc(uscc)
    except ValidationError as exc:
        raise ApplicationError(
            exc.messages[0], code="invalid", details={"uscc": exc.messages}
        ) from exc
    employer = Employer.objects.filter(uscc=code).first()
    if employer is None:
        if not employer_name.strip():
            message = _("Name the employer: it is not on record yet.")
            raise ApplicationError(message, code="invalid", details={"name": [message]})
        try:
            employer = employer_create(
                name=employer_name,
                uscc=code,
                kind=employer_kind or EmployerKind.ENTERPRISE,
            )
        except ApplicationError as exc:
            if exc.code != "duplicate_employer":
                raise
            employer = Employer.objects.get(uscc=code)
    for employment in applicant.employments.filter(employer=employer):
        if employment.is_active_on(on):
            return employment
    if start_date is None:
        message = _("Give the start of the employment: none with this employer is on record.")
        raise ApplicationError(message, code="invalid", details={"start_date": [message]})
    if start_date > on:
        message = _("The employment has not started yet.")
        raise ApplicationError(message, code="invalid", details={"start_date": [message]})
    return employment_create(
        applicant=applicant, employer=employer, start_date=start_date, actor=actor
    )


# --- Social security numbers (issue #17) --

# An assigned number: 9, Shanghai's province code 31, 999 (no nationality code: the service's
# own series), an 11-digit sequence number, and a GB 11643 check character; 18 characters like
# the permanent resident ID cards it sits beside, but never one of theirs (no country is 999).
ASSIGNED_NUMBER_PREFIX = "931999"


def _assigned_number(sequence: int) -> str:
    from stdnum.cn import ric

    body = f"{ASSIGNED_NUMBER_PREFIX}{sequence:011d}"
    return body + ric.calc_check_digit(body)


def _next_sequence() -> int:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('applicants_social_security_number_seq')")
            return cursor.fetchone()[0]
    # SQLite (`make run`, one writer, a few people): the highest number assigned, plus one (the
    # numbers are encrypted: compared here, not in SQL).
    assigned = Applicant.objects.filter(assigned_social_security_number__isnull=False).values_list(
        "assigned_social_security_number", flat=True
    )
    return max((int(n[len(ASSIGNED_NUMBER_PREFIX) : -1]) for n in assigned), default=0) + 1


def applicant_assign_social_security_number(*, applicant: Applicant) -> str:
    """Give a foreign national without an 18-character permit number a social security number of
    the service's own (issue #17: assigned by the agency, 18 characters starting with 9, not the
    passport number). The caller holds the person's row lock and decided that the rule set in
    force assigns numbers. Returns the person's social security number (assigned now or before;
    the document's own number where it is one)."""
    if applicant.social_security_number:
        return applicant.social_security_number
    number = _assigned_number(_next_sequence())
    Applicant.objects.filter(pk=applicant.pk, assigned_social_security_number__isnull=True).update(
        assigned_social_security_number=number,
        assigned_social_security_number_bidx=Applicant.blind_index(
            "assigned_social_security_number", number
        ),
        updated_at=timezone.now(),
    )
    applicant.refresh_from_db(fields=["assigned_social_security_number"])
    return applicant.social_security_number
