"""Identity documents, insurances, employer kinds: defined once."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdDocumentType(models.TextChoices):
    RESIDENT_ID = "resident_id", _("Resident identity card")
    FOREIGN_PERMANENT_RESIDENT_ID = (
        "foreign_permanent_resident_id",
        _("Foreign permanent resident ID card"),
    )
    PASSPORT = "passport", _("Passport")
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit", _("Hong Kong/Macao/Taiwan residence permit")


# Documents held by foreign nationals, who can be insured only through an employer.
FOREIGN_NATIONAL_DOCUMENTS = frozenset(
    {IdDocumentType.PASSPORT, IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID}
)


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class Insurance(models.TextChoices):
    """The five insurances of the Social Insurance Law, art. 2."""

    PENSION = "pension", _("Basic old-age insurance")
    MEDICAL = "medical", _("Basic medical insurance")
    WORK_INJURY = "work_injury", _("Work injury insurance")
    UNEMPLOYMENT = "unemployment", _("Unemployment insurance")
    MATERNITY = "maternity", _("Maternity insurance")


class EnrolmentRoute(models.TextChoices):
    EMPLOYER = "employer", _("Through an employer")
    INDIVIDUAL = "individual", _("As an individual")


# Individuals (flexible employment, individual business, part-time) may join only these two.
INDIVIDUAL_INSURANCES = frozenset({Insurance.PENSION, Insurance.MEDICAL})


class EmployerKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    INDIVIDUAL_BUSINESS = "individual_business", _("Individual industrial and commercial household")
    PUBLIC_INSTITUTION = "public_institution", _("Public institution")
    SOCIAL_ORGANIZATION = "social_organization", _("Social organization")
    OTHER = "other", _("Other")
