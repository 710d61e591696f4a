"""People, their employers and employments, insurance enrolments, and the local registry table."""

from __future__ import annotations

import datetime
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from agencies.choices import District
from applicants.choices import (
    FOREIGN_NATIONAL_DOCUMENTS,
    INDIVIDUAL_INSURANCES,
    EmployerKind,
    EnrolmentRoute,
    IdDocumentType,
    Insurance,
    Sex,
)
from applicants.identity import (
    identity_contradictions,
    person_name_refusal,
    validate_identity_document,
    validate_uscc,
)
from common import crypto
from common.fields import BlindIndexed, BlindIndexField, EncryptedCharField
from common.masking import mask_id_number, mask_name

# Identity document numbers share one context: a person's, a registry record's and an agent's
# number have the same blind index, so one can be looked up by the other.
ID_NUMBER_CONTEXT = "id_number"


def id_number_index(id_number: str) -> bytes | None:
    """The blind index of a normalised identity document number (common/crypto.py)."""
    return crypto.blind_index(id_number, context=ID_NUMBER_CONTEXT) if id_number else None


def same_document(id_type: str, id_number: str, issuing_country: str = "") -> dict[str, str]:
    """The lookup of one identity document: a passport by (issuing country, number), any other
    document by its number (its blind index: the number is stored encrypted). `id_number`
    normalised; a passport's country defaults as on save."""
    lookup: dict = {"id_type": id_type, "id_number_bidx": id_number_index(id_number)}
    if id_type == IdDocumentType.PASSPORT:
        lookup["id_issuing_country"] = (issuing_country or "").strip().upper()
    return lookup


def has_own_social_security_number(id_type: str, id_number: str) -> bool:
    """Whether the document's number is the person's social security number: a resident ID, a
    Hong Kong/Macao/Taiwan residence permit, or a foreign permanent resident ID card of the 2023
    18-character layout (the 2017 15-character one, like a passport, is not)."""
    if id_type in (IdDocumentType.RESIDENT_ID, IdDocumentType.HMT_RESIDENCE_PERMIT):
        return True
    return id_type == IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID and len(id_number) == 18


class IdentityFields(BlindIndexed):
    """The identity fields a person and a registry record share."""

    name = models.CharField(_("name"), max_length=64)
    id_type = models.CharField(
        _("identity document type"), max_length=32, choices=IdDocumentType.choices
    )
    id_number = EncryptedCharField(
        _("identity document number"), max_length=32, context=ID_NUMBER_CONTEXT
    )
    # The number's keyed blind index (common/crypto.py): exact lookups and uniqueness.
    id_number_bidx = BlindIndexField(source="id_number", context=ID_NUMBER_CONTEXT)
    id_issuing_country = models.CharField(
        _("issuing country"),
        max_length=3,
        blank=True,
        default="",
        db_default="",  # set-based writers (the benchmarks' fills) need not name it
        help_text=_("A passport's issuing country (ISO 3166 alpha-3); empty for others."),
    )
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    nationality = models.CharField(
        _("nationality"), max_length=3, default="CHN", help_text=_("ISO 3166 alpha-3 code.")
    )
    shanghai_hukou = models.BooleanField(_("Shanghai household registration"), default=False)
    hukou_place = models.CharField(_("place of household registration"), max_length=128, blank=True)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.apply_identity_document()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.apply_identity_document()

    def apply_identity_document(self) -> None:
        """Normalise the document number; derive sex and birth date where the number holds them.

        Raises ValidationError naming `id_number` for an invalid number: none is ever stored.
        """
        refusal = person_name_refusal(self.name)
        if refusal:
            raise ValidationError({"name": refusal})
        facts = validate_identity_document(self.id_type, self.id_number)
        contradictions = identity_contradictions(facts, sex=self.sex, birth_date=self.birth_date)
        if contradictions:
            raise ValidationError(contradictions)
        self.id_number = facts.number
        if facts.sex:
            self.sex = facts.sex
        if facts.birth_date:
            self.birth_date = facts.birth_date
        self.nationality = (self.nationality or "").strip().upper()
        # A passport is one person's by (issuing country, number): two countries may issue the
        # same number. Other documents are unique by their number alone.
        if self.id_type == IdDocumentType.PASSPORT:
            country = (self.id_issuing_country or self.nationality or "").strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", country):
                raise ValidationError(
                    {"id_issuing_country": _("Give the passport's issuing country (3 letters).")}
                )
            self.id_issuing_country = country
        else:
            self.id_issuing_country = ""
        if self.id_type in FOREIGN_NATIONAL_DOCUMENTS and self.nationality == "CHN":
            raise ValidationError(
                {"nationality": _("A foreign national's document needs a foreign nationality.")}
            )
        if self.id_type not in FOREIGN_NATIONAL_DOCUMENTS:
            self.nationality = "CHN"
        if not re.fullmatch(r"[A-Z]{3}", self.nationality):
            raise ValidationError(
                {
                    "nationality": _(
                        "A nationality is an ISO 3166 code of 3 letters (for example DEU)."
                    )
                }
            )
        if self.shanghai_hukou and self.id_type != IdDocumentType.RESIDENT_ID:
            raise ValidationError(
                {
                    "shanghai_hukou": _(
                        "Only a holder of a resident identity card can have Shanghai household "
                        "registration."
                    )
                }
            )
        if not self.sex:
            raise ValidationError({"sex": _("Sex is required for this document type.")})
        if not self.birth_date:
            raise ValidationError(
                {"birth_date": _("The birth date is required for this document type.")}
            )
        # Uniqueness is checked on the blind index: bring it in step before validation.
        self.refresh_blind_indexes()

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def name_masked(self) -> str:
        return mask_name(self.name)


class Applicant(IdentityFields):
    """A person who is insured and applies for, holds or reports lost a card."""

    phone = EncryptedCharField(_("phone"), max_length=32, blank=True, context="phone")
    address = EncryptedCharField(_("home address"), max_length=255, blank=True, context="address")
    # A foreign national with no 18-character permit number: the number the service assigned
    # under its rule set (applicants.services.applicant_assign_social_security_number). Encrypted
    # like the document number; unique, and found by an exact number, through its blind index.
    assigned_social_security_number = EncryptedCharField(
        _("assigned social security number"),
        max_length=18,
        null=True,
        blank=True,
        editable=False,
        context="social_security_number",
    )
    assigned_social_security_number_bidx = BlindIndexField(
        source="assigned_social_security_number", context="social_security_number", unique=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number_bidx"],
                condition=~Q(id_type=IdDocumentType.PASSPORT),
                name="applicant_unique_identity_document",
                violation_error_message=_("A person with this identity document already exists."),
            ),
            models.UniqueConstraint(
                fields=["id_type", "id_issuing_country", "id_number_bidx"],
                condition=Q(id_type=IdDocumentType.PASSPORT),
                name="applicant_unique_passport",
                violation_error_message=_("A person with this identity document already exists."),
            ),
        ]
        indexes = [
            # The counter's exact search by a document number of any type (and any passport's
            # issuing country): one probe (applicants.selectors.applicant_get_by_document).
            models.Index(fields=["id_number_bidx"], name="applicant_id_number_bidx_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name_masked} {self.id_number_masked}"

    @property
    def social_security_number(self) -> str:
        """Social Insurance Law art. 58: the citizen identity number; for holders of a Hong
        Kong/Macao/Taiwan residence permit or an 18-character foreign permanent resident ID card,
        that number; for other foreign nationals the number the service assigned, if any."""
        if has_own_social_security_number(self.id_type, self.id_number):
            return self.id_number
        return self.assigned_social_security_number or ""

    @property
    def is_foreign_national(self) -> bool:
        return self.id_type in FOREIGN_NATIONAL_DOCUMENTS


class Employer(models.Model):
    """An employing unit, identified by its Unified Social Credit Code."""

    name = models.CharField(_("name"), max_length=128)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=EmployerKind.choices)
    district = models.CharField(_("district"), max_length=16, choices=District.choices, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("employer")
        verbose_name_plural = _("employers")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        try:
            self.uscc = validate_uscc(self.uscc)
        except ValidationError as exc:
            raise ValidationError({"uscc": exc.error_list}) from exc


class Employment(models.Model):
    """A person's employment; the employer must register it for social insurance within 30 days
    of the start (Social Insurance Law art. 58)."""

    applicant = models.ForeignKey(
        Applicant, on_delete=models.PROTECT, related_name="employments", verbose_name=_("applicant")
    )
    employer = models.ForeignKey(
        Employer, on_delete=models.PROTECT, related_name="employments", verbose_name=_("employer")
    )
    start_date = models.DateField(_("start of employment"))
    end_date = models.DateField(_("end of employment"), null=True, blank=True)
    registered_on = models.DateField(_("social insurance registered on"), null=True, blank=True)
    registration_deadline = models.DateField(
        _("registration deadline"),
        editable=False,
        help_text=_("The start of employment plus 30 days (Social Insurance Law art. 58)."),
    )

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("employment")
        verbose_name_plural = _("employments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="employment_ends_after_start",
                violation_error_message=_("The end of employment is before its start."),
            ),
            models.CheckConstraint(
                condition=models.Q(registration_deadline__gte=models.F("start_date")),
                name="employment_deadline_after_start",
            ),
        ]
        indexes = [
            # The overdue scan: unregistered employments by deadline.
            models.Index(
                fields=["registration_deadline"],
                condition=models.Q(registered_on__isnull=True),
                name="employment_unregistered_idx",
            ),
            # The supervisors' roll-up of late registrations (applicants.selectors).
            models.Index(
                fields=["registered_on"],
                condition=models.Q(registered_on__gt=models.F("registration_deadline")),
                name="employment_late_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.employer} / {self.applicant}"

    def save(self, *args, **kwargs) -> None:
        self.registration_deadline = self.start_date + datetime.timedelta(
            days=settings.EMPLOYER_REGISTRATION_DAYS
        )
        super().save(*args, **kwargs)

    def is_active_on(self, day: datetime.date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)


class InsuranceEnrolment(models.Model):
    """Participation in one of the five insurances, through an employer or as an individual."""

    applicant = models.ForeignKey(
        Applicant, on_delete=models.PROTECT, related_name="enrolments", verbose_name=_("applicant")
    )
    insurance = models.CharField(_("insurance"), max_length=16, choices=Insurance.choices)
    route = models.CharField(_("route"), max_length=16, choices=EnrolmentRoute.choices)
    employment = models.ForeignKey(
        Employment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="enrolments",
        verbose_name=_("employment"),
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)

    class Meta:
        ordering = ["insurance"]
        verbose_name = _("insurance enrolment")
        verbose_name_plural = _("insurance enrolments")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(route=EnrolmentRoute.EMPLOYER, employment__isnull=False)
                    | models.Q(route=EnrolmentRoute.INDIVIDUAL, employment__isnull=True)
                ),
                name="enrolment_employment_iff_employer_route",
                violation_error_message=_(
                    "An enrolment through an employer names the employment; "
                    "an individual one does not."
                ),
            ),
            models.CheckConstraint(
                condition=~models.Q(route=EnrolmentRoute.INDIVIDUAL)
                | models.Q(insurance__in=sorted(INDIVIDUAL_INSURANCES)),
                name="enrolment_individual_only_pension_medical",
                violation_error_message=_(
                    "As an individual a person may join only pension and medical insurance."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_insurance_display()} ({self.get_route_display()})"

    def is_active_on(self, day: datetime.date) -> bool:
        return self.start_date <= day and (self.end_date is None or self.end_date >= day)


class RegistryRecord(IdentityFields):
    """The local copy of a person's record at the municipal information service center; the
    default backend of the registry adapter (applicants/registry.py)."""

    registered_address = EncryptedCharField(
        _("registered address"), max_length=255, blank=True, context="address"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("municipal registry record")
        verbose_name_plural = _("municipal registry records")
        constraints = [
            models.UniqueConstraint(
                fields=["id_type", "id_number_bidx"],
                condition=~Q(id_type=IdDocumentType.PASSPORT),
                name="registryrecord_unique_identity_document",
            ),
            models.UniqueConstraint(
                fields=["id_type", "id_issuing_country", "id_number_bidx"],
                condition=Q(id_type=IdDocumentType.PASSPORT),
                name="registryrecord_unique_passport",
            ),
        ]
        indexes = [
            # The registry search by a document number of any type: one probe.
            models.Index(fields=["id_number_bidx"], name="registry_id_number_bidx_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name_masked} {self.id_number_masked}"
