"""The Chinese working-day calendar: public holidays off, make-up working weekends on."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from common.fields import EncryptedTextField

FIRST_YEAR, LAST_YEAR = 1949, 9998


class CalendarYear(models.Model):
    """A year whose official holiday schedule is known; without one, weekends-only applies."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    source = models.CharField(
        _("source"),
        max_length=32,
        default="manual",
        help_text=_("'chinesecalendar' when seeded from the library, 'manual' when entered."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("holiday calendar year")
        verbose_name_plural = _("holiday calendar years")

    def __str__(self) -> str:
        return str(self.year)

    def clean(self) -> None:
        # A year a date can be in, with its successor (a working-day count crosses into it).
        if self.year is not None and not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise ValidationError(
                {
                    "year": _("A calendar year is between %(first)d and %(last)d.")
                    % {"first": FIRST_YEAR, "last": LAST_YEAR}
                }
            )


class CalendarDay(models.Model):
    """A day that differs from the Monday-to-Friday rule: a holiday on a weekday, or a make-up
    working weekend day."""

    calendar_year = models.ForeignKey(
        CalendarYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("year")
    )
    date = models.DateField(_("date"), unique=True)
    is_working_day = models.BooleanField(_("working day"))
    name = models.CharField(_("name"), max_length=64, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar exception day")
        verbose_name_plural = _("calendar exception days")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date__year=models.F("calendar_year_id")),
                name="calendarday_date_in_its_year",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

    def clean(self) -> None:
        # The database's calendarday_date_in_its_year, said before the insert that it refuses
        # (the admin's inline names the date instead of a 500).
        try:
            year = self.calendar_year.year
        except CalendarYear.DoesNotExist:
            year = None
        if self.date and year is not None and self.date.year != year:
            raise ValidationError(
                {
                    "date": _("A day of the year %(year)d, not %(date)s.")
                    % {"year": year, "date": self.date.isoformat()}
                }
            )


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key of one POST and the first response to it, kept for 24 hours:
    a retry with the same key and body gets that response again (common/idempotency.py)."""

    scope = models.CharField(
        _("scope"), max_length=64, help_text=_("Whose key it is, e.g. bank:7 for a partner bank.")
    )
    key = models.CharField(_("key"), max_length=255)
    request_fingerprint = models.CharField(
        _("request fingerprint"),
        max_length=64,
        help_text=_("SHA-256 of the method, the path and the body of the first request."),
    )
    response_status = models.PositiveSmallIntegerField(_("response status"))
    response_body = EncryptedTextField(
        _("response body"),
        help_text=_("The JSON document answered, byte for byte."),
        context="idempotency.response_body",
    )
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotencykey_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
