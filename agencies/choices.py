"""Kinds, districts, operations and roles of the agencies: defined once, used everywhere."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class District(models.TextChoices):
    """Shanghai's 16 districts."""

    HUANGPU = "huangpu", _("Huangpu")
    XUHUI = "xuhui", _("Xuhui")
    CHANGNING = "changning", _("Changning")
    JINGAN = "jingan", _("Jing'an")
    PUTUO = "putuo", _("Putuo")
    HONGKOU = "hongkou", _("Hongkou")
    YANGPU = "yangpu", _("Yangpu")
    MINHANG = "minhang", _("Minhang")
    BAOSHAN = "baoshan", _("Baoshan")
    JIADING = "jiading", _("Jiading")
    PUDONG = "pudong", _("Pudong New Area")
    JINSHAN = "jinshan", _("Jinshan")
    SONGJIANG = "songjiang", _("Songjiang")
    QINGPU = "qingpu", _("Qingpu")
    FENGXIAN = "fengxian", _("Fengxian")
    CHONGMING = "chongming", _("Chongming")


class ServicePointKind(models.TextChoices):
    STREET_STATION = "street_station", _("Street/township service station")
    COMMUNITY_CENTER = "community_center", _("Community affairs acceptance center")
    COUNTY_MEDICAL_CENTER = "county_medical_center", _("County/district medical insurance center")
    STREET_MEDICAL_POINT = "street_medical_point", _("Street/town medical insurance service point")
    BANK_OUTLET = "bank_outlet", _("Partner-bank outlet")
    HOTLINE = "hotline", _("Hotline (12333)")


class Operation(models.TextChoices):
    """What a service point may do at its counter."""

    TAKE_APPLICATIONS = "take_applications", _("Take applications")
    VERIFY = "verify", _("Verify against the municipal registry")
    MARK_READY = "mark_ready", _("Complete cards for collection")
    HAND_OVER = "hand_over", _("Hand over cards")
    WRITTEN_LOSS_REPORT = "written_loss_report", _("Take written loss reports and replacements")
    PHONE_PRE_REPORT = "phone_pre_report", _("Take phone pre-reports of loss")
    ISSUE_ON_THE_SPOT = "issue_on_the_spot", _("Issue medical insurance cards on the spot")


class StaffRole(models.TextChoices):
    CLERK = "clerk", _("Clerk")
    SUPERVISOR = "supervisor", _("Supervisor")
    HOTLINE_OPERATOR = "hotline_operator", _("Hotline operator")
    # The three separated duties of MLPS 2.0 level 3 (等保 三员分立): none of them sees a person's
    # data or acts on a card, and the auditor, who only reads the logs, acts on nothing.
    SYSTEM_ADMINISTRATOR = "system_administrator", _("System administrator")
    SECURITY_ADMINISTRATOR = "security_administrator", _("Security administrator")
    AUDITOR = "auditor", _("Auditor")


# Roles of the municipal center itself: they work at no service point and no bank.
CENTRAL_ROLES: frozenset[str] = frozenset(
    {StaffRole.SYSTEM_ADMINISTRATOR, StaffRole.SECURITY_ADMINISTRATOR, StaffRole.AUDITOR}
)


# The one table of what each kind of service point may do (PRODUCT.md, "Applying" and
# "The card lifecycle"). Social security cards are produced by the partner bank; medical insurance
# cards are settled on the spot by a county center or within 3 working days by a street point.
KIND_OPERATIONS: dict[str, frozenset[str]] = {
    ServicePointKind.STREET_STATION: frozenset(
        {
            Operation.TAKE_APPLICATIONS,
            Operation.VERIFY,
            Operation.HAND_OVER,
            Operation.WRITTEN_LOSS_REPORT,
        }
    ),
    ServicePointKind.COMMUNITY_CENTER: frozenset(
        {
            Operation.TAKE_APPLICATIONS,
            Operation.VERIFY,
            Operation.HAND_OVER,
            Operation.WRITTEN_LOSS_REPORT,
        }
    ),
    ServicePointKind.COUNTY_MEDICAL_CENTER: frozenset(
        {
            Operation.TAKE_APPLICATIONS,
            Operation.VERIFY,
            Operation.ISSUE_ON_THE_SPOT,
            Operation.HAND_OVER,
            Operation.WRITTEN_LOSS_REPORT,
        }
    ),
    ServicePointKind.STREET_MEDICAL_POINT: frozenset(
        {
            Operation.TAKE_APPLICATIONS,
            Operation.VERIFY,
            Operation.MARK_READY,
            Operation.HAND_OVER,
            Operation.WRITTEN_LOSS_REPORT,
        }
    ),
    ServicePointKind.BANK_OUTLET: frozenset(
        {
            Operation.TAKE_APPLICATIONS,
            Operation.VERIFY,
            Operation.MARK_READY,
            Operation.HAND_OVER,
        }
    ),
    ServicePointKind.HOTLINE: frozenset({Operation.PHONE_PRE_REPORT}),
}


def kind_allows(kind: str, operation: str) -> bool:
    """Whether a service point of `kind` may perform `operation`."""
    return operation in KIND_OPERATIONS.get(kind, frozenset())
