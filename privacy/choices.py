"""What the personal-data logs record: defined once."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChangeAction(models.TextChoices):
    CREATE = "create", _("Person recorded")
    UPDATE = "update", _("Person corrected")
    CONTACT_FROM_APPLICATION = "contact_from_application", _("Contact data from an application")
    ANONYMISE = "anonymise", _("Anonymised after the retention period")
    EMPLOYMENT_CREATE = "employment_create", _("Employment recorded")
    EMPLOYMENT_REGISTER = "employment_register", _("Employment registered for insurance")
    ENROLMENT_CREATE = "enrolment_create", _("Insurance enrolment recorded")


class AccessPurpose(models.TextChoices):
    """Why a full ID number (or another full personal value) was read."""

    API_CARD_DETAIL = "api_card_detail", _("Bank API: one card's detail")
    COUNTER_SEARCH = "counter_search", _("Counter search by the exact document number")
    REVEAL = "reveal", _("Reveal in the admin")
    PERSON_COPY = "person_copy", _("The person's copy of their data (PIPL art. 45)")


class AccessChannel(models.TextChoices):
    """Where a read was made."""

    ADMIN = "admin", _("Back-office admin")
    COUNTER = "counter", _("Service point counter")
    API = "api", _("Partner bank API")


class RetentionRule(models.TextChoices):
    """The retention schedule's rules (privacy/retention.py; README "Retention")."""

    CARDLESS = "cardless", _("No card and no activity for RETENTION_CARDLESS_YEARS")
    CLOSED_CARDS = "closed_cards", _("Every card closed RETENTION_CLOSED_CARD_YEARS ago")
