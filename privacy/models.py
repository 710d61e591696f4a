"""The personal-data logs: who changed a person (PersonChange) and who read a person's full
values (PersonalDataAccess).

Both stand on common only, like a log every app writes into: their foreign keys name the other
apps' models by string and this module imports no app's models, so applicants.services and the
bank API write into them without a cycle. They are insert-only for the application (the services
write them; the admin shows them read-only to the auditor); retention (privacy/retention.py)
clears the values a person's changes kept at their erasure, and deletes the rows of both logs
PERSONAL_DATA_LOG_RETENTION_YEARS (3) after they were written.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cards.choices import ActorKind, Channel
from common.fields import EncryptedCharField
from privacy.choices import AccessChannel, AccessPurpose, ChangeAction, RetentionRule


def _log_fk(to: str, verbose_name, **kwargs) -> models.ForeignKey:
    """A log's reference: no database constraint (each would cost the insert an index probe, and
    nothing these rows name is ever deleted: PROTECT everywhere, retention anonymises)."""
    return models.ForeignKey(
        to,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name=verbose_name,
        **kwargs,
    )


class PersonChange(models.Model):
    """One change to a person, their employment or enrolment: what, by whom, through which
    channel, with the values before and after (PIPL art. 51; MLPS 2.0 level 3 audit).

    `changes` holds each field's masked before/after for display. `sealed` holds the full values,
    written only through privacy.audit.seal() (the one place the field cipher plugs in), so that a
    wrong change can be put right; retention empties it."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    applicant = _log_fk("applicants.Applicant", _("applicant"))
    action = models.CharField(_("action"), max_length=32, choices=ChangeAction.choices)
    object_type = models.CharField(_("object"), max_length=32)
    object_id = models.BigIntegerField(_("object id"))
    actor_kind = models.CharField(_("actor"), max_length=16, choices=ActorKind.choices)
    user = _log_fk(settings.AUTH_USER_MODEL, _("staff member"), null=True, blank=True)
    bank = _log_fk("agencies.PartnerBank", _("partner bank"), null=True, blank=True)
    service_point = _log_fk("agencies.ServicePoint", _("service point"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    changes = models.JSONField(_("changes (masked)"), default=dict, blank=True)
    sealed = models.JSONField(_("values (sealed)"), default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("person change")
        verbose_name_plural = _("person changes")
        indexes = [
            models.Index(fields=["applicant", "id"], name="personchange_applicant_idx"),
            # The retention's purge (privacy.retention.purge_expired_logs).
            models.Index(fields=["at"], name="personchange_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.object_id} {self.at:%Y-%m-%d %H:%M}"


class PersonalDataAccess(models.Model):
    """One read of a person's full ID number (or of their whole record): who (a staff member or a
    bank), whose, when, why and through which channel. One row, one INSERT, per read."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    applicant = _log_fk("applicants.Applicant", _("applicant"))
    purpose = models.CharField(_("purpose"), max_length=32, choices=AccessPurpose.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=AccessChannel.choices)
    user = _log_fk(settings.AUTH_USER_MODEL, _("staff member"), null=True, blank=True)
    bank = _log_fk("agencies.PartnerBank", _("partner bank"), null=True, blank=True)
    service_point = _log_fk("agencies.ServicePoint", _("service point"), null=True, blank=True)
    card = _log_fk("cards.Card", _("card"), null=True, blank=True)
    field = models.CharField(_("field"), max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        indexes = [
            models.Index(fields=["applicant", "id"], name="pdaccess_applicant_idx"),
            # The retention's purge (privacy.retention.purge_expired_logs).
            models.Index(fields=["at"], name="pdaccess_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.at:%Y-%m-%d %H:%M}"


class Anonymisation(models.Model):
    """A person anonymised after the retention period (PIPL art. 47): which rule, when. The
    person's row stays (cards and logs point at it), emptied of who they were."""

    applicant = models.OneToOneField(
        "applicants.Applicant",
        on_delete=models.PROTECT,
        related_name="anonymisation",
        verbose_name=_("applicant"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    rule = models.CharField(_("rule"), max_length=32, choices=RetentionRule.choices)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("anonymisation")
        verbose_name_plural = _("anonymisations")

    def __str__(self) -> str:
        return f"{self.applicant_id} {self.rule} {self.at:%Y-%m-%d}"


class PersonDataKey(models.Model):
    """One person's own data key (crypto-shredding): their values in the append-only transition
    log are sealed under it (privacy/keys.py), so destroying it at their erasure erases them
    there while the log's rows stay. Kept wrapped by the field key; `erased_at` once destroyed."""

    applicant = models.OneToOneField(
        "applicants.Applicant",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("applicant"),
    )
    key = EncryptedCharField(
        _("data key (wrapped)"), max_length=64, blank=True, context="person_data_key"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    erased_at = models.DateTimeField(_("destroyed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("personal data key")
        verbose_name_plural = _("personal data keys")

    def __str__(self) -> str:
        return f"{self.applicant_id} {'destroyed' if self.erased_at else 'in use'}"
