"""Admin screens for people, employers, employments and the registry table.

Lists show names and document numbers masked (PIPL: PRODUCT.md "Privacy"); a clerk finds a person
by the exact document number. The full clerk screens are a later issue.
"""

from django.contrib import admin
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applicants.identity import normalise_id_number
from applicants.models import (
    Applicant,
    Employer,
    Employment,
    InsuranceEnrolment,
    RegistryRecord,
)
from applicants.selectors import employment_overdue_list


class ExactIdNumberSearchMixin:
    """Search by the exact, normalised document number only: no substring scans of personal data,
    and an index lookup at 25 million rows."""

    search_fields = ("id_number",)
    search_help_text = _("The exact identity document number")

    def get_search_results(self, request, queryset, search_term):
        number = normalise_id_number(search_term)
        if not number:
            return queryset, False
        return queryset.filter(id_number=number), False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EmploymentInline(ReadOnlyInline):
    model = Employment
    fields = ("employer", "start_date", "end_date", "registration_deadline", "registered_on")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("employer")


class EnrolmentInline(ReadOnlyInline):
    model = InsuranceEnrolment
    fields = ("insurance", "route", "employer", "start_date", "end_date")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("employment__employer")

    @admin.display(description=_("employer"))
    def employer(self, enrolment: InsuranceEnrolment) -> str:
        return str(enrolment.employment.employer) if enrolment.employment else "-"


@admin.register(Applicant)
class ApplicantAdmin(ExactIdNumberSearchMixin, admin.ModelAdmin):
    list_display = (
        "masked_name",
        "id_type",
        "masked_id_number",
        "sex",
        "nationality",
        "shanghai_hukou",
        "created_at",
    )
    list_filter = ("id_type", "shanghai_hukou", "sex", "nationality")
    readonly_fields = ("created_at", "updated_at")
    inlines = (EmploymentInline, EnrolmentInline)
    show_full_result_count = False  # no COUNT(*) of every person on each page

    @admin.display(description=_("name"))
    def masked_name(self, applicant: Applicant) -> str:
        return applicant.name_masked

    @admin.display(description=_("identity document number"))
    def masked_id_number(self, applicant: Applicant) -> str:
        return applicant.id_number_masked


@admin.register(Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "kind", "district")
    list_filter = ("kind", "district")
    search_fields = ("name", "=uscc")
    search_help_text = _("Name, or the exact unified social credit code")


class RegistrationFilter(admin.SimpleListFilter):
    """Where an employment stands against its 30-day registration deadline (art. 58)."""

    title = _("registration")
    parameter_name = "registration"

    def lookups(self, request, model_admin):
        return (
            ("overdue", _("Overdue: not registered by the deadline")),
            ("pending", _("Not registered, deadline not passed")),
            ("late", _("Registered late")),
            ("on_time", _("Registered on time")),
        )

    def queryset(self, request, queryset):
        today = timezone.localdate()
        unregistered = Q(registered_on__isnull=True)
        match self.value():
            case "overdue":
                return queryset.filter(pk__in=employment_overdue_list(on=today).values("pk"))
            case "pending":
                return queryset.filter(unregistered, registration_deadline__gte=today)
            case "late":
                return queryset.filter(registered_on__gt=F("registration_deadline"))
            case "on_time":
                return queryset.filter(registered_on__lte=F("registration_deadline"))
        return queryset


@admin.register(Employment)
class EmploymentAdmin(admin.ModelAdmin):
    list_display = (
        "employer",
        "masked_applicant",
        "start_date",
        "end_date",
        "registration_deadline",
        "registered_on",
        "is_overdue",
    )
    list_filter = (RegistrationFilter, "registration_deadline", "employer__kind")
    list_select_related = ("employer", "applicant")
    search_fields = ("employer__name", "=employer__uscc")
    search_help_text = _("Employer name, or its exact unified social credit code")
    raw_id_fields = ("applicant", "employer")
    readonly_fields = ("registration_deadline",)
    date_hierarchy = "start_date"

    @admin.display(description=_("applicant"))
    def masked_applicant(self, employment: Employment) -> str:
        return str(employment.applicant)

    @admin.display(description=_("overdue"), boolean=True)
    def is_overdue(self, employment: Employment) -> bool:
        """As applicants.selectors.employment_overdue_list: unregistered, deadline passed, and
        the employment not ended."""
        today = timezone.localdate()
        return (
            employment.registered_on is None
            and employment.registration_deadline < today
            and (employment.end_date is None or employment.end_date >= today)
        )


@admin.register(RegistryRecord)
class RegistryRecordAdmin(ExactIdNumberSearchMixin, admin.ModelAdmin):
    list_display = (
        "masked_name",
        "id_type",
        "masked_id_number",
        "shanghai_hukou",
        "hukou_place",
        "updated_at",
    )
    list_filter = ("id_type", "shanghai_hukou")
    readonly_fields = ("updated_at",)
    show_full_result_count = False

    @admin.display(description=_("name"))
    def masked_name(self, record: RegistryRecord) -> str:
        return record.name_masked

    @admin.display(description=_("identity document number"))
    def masked_id_number(self, record: RegistryRecord) -> str:
        return record.id_number_masked
