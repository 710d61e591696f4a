"""Admin screens for people, employers, employments and the registry table.

Lists show names and document numbers masked (PIPL: PRODUCT.md "Privacy"); a clerk finds a person
by the exact document number. A clerk sees only the people of their own service point's cards and
people with no card yet (cards/scope.py); a full number is shown only after a logged reveal.
New people are registered at the counter (cards/admin_views.py), through applicants.services.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applicants.forms import EnrolmentForm
from applicants.identity import normalise_id_number
from applicants.models import (
    Applicant,
    Employer,
    Employment,
    InsuranceEnrolment,
    RegistryRecord,
)
from applicants.selectors import employment_overdue_list
from cards import scope
from cards.admin_views import record_reveal, take_revealed
from common.admin import OutOfScopeIs404, ReadOnly
from common.errors import ApplicationError


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


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False


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
class ApplicantAdmin(OutOfScopeIs404, ExactIdNumberSearchMixin, admin.ModelAdmin):
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
    change_form_template = "admin/cards/applicant_change_form.html"

    def get_queryset(self, request):
        return scope.applicants_visible_to(request.user)

    def has_add_permission(self, request):
        # A clerk registers a person at the counter (applicants.services.applicant_create).
        return request.user.is_superuser

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None:  # the document is the person's identity: shown masked, never edited
            fields = [f for f in fields if f not in ("id_type", "id_number", "masked_id_number")]
            fields[1:1] = ["id_type", "masked_id_number"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            readonly += ["id_type", "masked_id_number"]
        return readonly

    def get_urls(self):
        return [
            path(
                "<path:object_id>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="applicants_applicant_reveal",
            ),
            path(
                "<path:object_id>/enrol/",
                self.admin_site.admin_view(self.enrol_view),
                name="applicants_applicant_enrol",
            ),
            *super().get_urls(),
        ]

    def enrol_view(self, request, object_id):
        """Record an insurance enrolment (applicants.services.enrolment_create): how a person
        with no insurance yet becomes eligible for a card at the counter."""
        applicant = self.get_object(request, unquote(object_id))  # 404 outside the scope
        if applicant is None:
            raise Http404
        if not scope.takes_applications(request.user):
            raise PermissionDenied
        form = EnrolmentForm(request.POST or None, applicant=applicant)
        if request.method == "POST" and form.is_valid():
            try:
                enrolment = form.save()
            except ApplicationError as exc:
                reasons = [r["message"] for r in exc.details.get("reasons", [])]
                for field, errors in exc.details.items():
                    if field in form.fields:
                        form.add_error(field, errors)
                if reasons or not any(f in form.fields for f in exc.details):
                    form.add_error(None, reasons or [exc.message])
            else:
                messages.success(request, _("Enrolled: %(enrolment)s.") % {"enrolment": enrolment})
                return HttpResponseRedirect(
                    reverse("admin:applicants_applicant_change", args=[applicant.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Enrol in an insurance"),
            "applicant": applicant,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/applicants/enrol.html", context)

    def reveal_view(self, request, object_id):
        """Show the full document number once; the look is logged (cards.IdNumberReveal)."""
        applicant = self.get_object(request, unquote(object_id))  # 404 outside the scope
        if request.method == "POST":
            record_reveal(request, applicant=applicant)
        return HttpResponseRedirect(
            reverse("admin:applicants_applicant_change", args=[applicant.pk])
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        applicant = self.get_object(request, unquote(object_id))
        revealed = take_revealed(request, applicant)
        context = {
            "id_number_shown": applicant.id_number if revealed else applicant.id_number_masked,
            "id_number_revealed": revealed,
            "can_reveal": request.user.has_perm("cards.reveal_id_number"),
            "reveal_url": reverse("admin:applicants_applicant_reveal", args=[applicant.pk]),
            "enrol_url": reverse("admin:applicants_applicant_enrol", args=[applicant.pk])
            if scope.takes_applications(request.user)
            else "",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

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
class EmploymentAdmin(OutOfScopeIs404, admin.ModelAdmin):
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

    def get_queryset(self, request):
        visible = scope.applicants_visible_to(request.user)
        return super().get_queryset(request).filter(applicant__in=visible.order_by().values("pk"))

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
