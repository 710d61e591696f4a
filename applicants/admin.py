"""Admin screens for people, employers, employments and the registry table.

Lists show names and document numbers masked (PIPL: PRODUCT.md "Privacy"); a clerk finds a person
by the exact document number. A clerk sees only the people of their own service point's cards and
people with no card yet (cards/counter/scope.py); a full number is shown only after a logged reveal.
New people are registered at the counter (cards/counter/views.py), through applicants.services.
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

from applicants.choices import IdDocumentType
from applicants.forms import EnrolmentForm
from applicants.identity import normalise_id_number
from applicants.models import (
    Applicant,
    Employer,
    Employment,
    InsuranceEnrolment,
    RegistryRecord,
)
from applicants.selectors import (
    LATE_WINDOW_DAYS,
    ROLLUP_LIMIT,
    employer_overdue_rollup,
    employment_overdue_list,
)
from cards.counter import scope
from cards.counter.views import record_reveal, take_revealed
from common.admin import OutOfScopeIs404, ReadOnly
from common.admin_lists import BoundedPaginator, NoSearchInUrl
from common.errors import ApplicationError


class PostedSearchMixin(NoSearchInUrl):
    """No `?q=` search: a document number never goes into a URL (access logs keep URLs). The list
    shows a form that posts the number to find_url(); the exact match opens its page."""

    search_fields = ()
    change_list_template = "admin/applicants/posted_search_change_list.html"

    def find_url(self) -> str:
        raise NotImplementedError

    def changelist_view(self, request, extra_context=None):
        context = {"find_url": self.find_url(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


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


class NationalityFilter(admin.SimpleListFilter):
    """Chinese or other nationality: fixed choices (the default filter would list the distinct
    values of every person in the city)."""

    title = _("nationality")
    parameter_name = "nationality"

    def lookups(self, request, model_admin):
        return (("CHN", _("Chinese")), ("other", _("Other nationality")))

    def queryset(self, request, queryset):
        if self.value() == "CHN":
            return queryset.filter(nationality="CHN")
        if self.value() == "other":
            return queryset.exclude(nationality="CHN")
        return queryset


@admin.register(Applicant)
class ApplicantAdmin(OutOfScopeIs404, PostedSearchMixin, admin.ModelAdmin):
    list_display = (
        "masked_name",
        "id_type",
        "masked_id_number",
        "sex",
        "nationality",
        "shanghai_hukou",
        "created_at",
    )
    list_filter = ("id_type", "shanghai_hukou", "sex", NationalityFilter)
    readonly_fields = ("created_at", "updated_at")
    inlines = (EmploymentInline, EnrolmentInline)
    show_full_result_count = False  # no COUNT(*) of every person on each page
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    sortable_by = ()  # the order an index serves (get_ordering)
    change_form_template = "admin/cards/applicant_change_form.html"

    def find_url(self) -> str:
        return reverse("admin:cards_card_counter")  # the counter's exact search

    def get_queryset(self, request):
        return scope.applicants_visible_to(scope.desk_of(request))

    def get_ordering(self, request):
        """A point's people newest first by its PointPerson index; the city's by primary key."""
        desk = scope.desk_of(request)
        if desk.point is not None and not (desk.is_superuser or desk.is_hotline):
            return [f"-{scope.HERE}__since", "-pk"]
        return ["-pk"]

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
        if not scope.desk_of(request).takes_applications:
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
            if scope.desk_of(request).takes_applications
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
    # The exact code, by its unique index: a substring of a name would read every employer.
    search_fields = ("=uscc",)
    search_help_text = _("The exact unified social credit code")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    sortable_by = ()
    ordering = ("-pk",)  # newest first, by the primary key (no index sorts a city by name)

    def get_urls(self):
        return [
            path(
                "overdue/",
                self.admin_site.admin_view(self.rollup_view),
                name="applicants_employer_overdue",
            ),
            *super().get_urls(),
        ]

    def rollup_view(self, request):
        """The supervisors' roll-up (art. 58): the employers with the most employments still
        unregistered past the deadline, and their late registrations of the last year; of the
        desk's people (the city for a superuser). Anyone but a supervisor: 403."""
        desk = scope.desk_of(request)
        if not desk.is_supervisor or not desk.active:
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Employers with overdue registrations"),
            "rows": employer_overdue_rollup(employments=employments_in_scope(desk)),
            "limit": ROLLUP_LIMIT,
            "late_days": LATE_WINDOW_DAYS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/applicants/employer_rollup.html", context)


def employments_in_scope(desk: scope.Desk, employments=None):
    """The employments of the people the desk sees (scope.applicants_visible_to): for a
    service point, through its PointPerson rows."""
    employments = Employment.objects.all() if employments is None else employments
    if desk.is_superuser:
        return employments
    if desk.point is None or desk.is_hotline or not desk.active:
        visible = scope.applicants_visible_to(desk).order_by().values("pk")
        return employments.filter(applicant__in=visible)
    return employments.filter(applicant__point_links__service_point=desk.point_id)


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
    search_fields = ("=employer__uscc",)
    search_help_text = _("The employer's exact unified social credit code")
    raw_id_fields = ("applicant", "employer")
    readonly_fields = ("registration_deadline",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    sortable_by = ()

    def get_queryset(self, request):
        """The employments of the people the desk sees (scope.applicants_visible_to): for a
        service point, through its PointPerson rows, read in order from their index."""
        return employments_in_scope(scope.desk_of(request), super().get_queryset(request))

    def get_ordering(self, request):
        desk = scope.desk_of(request)
        if desk.point is not None and not desk.is_superuser:
            # The point's people in their index's order (since, applicant), then each one's
            # employments: read in order and stopped at the page, never sorted whole.
            return ["-applicant__point_links__since", "-applicant_id", "-pk"]
        return ["-pk"]

    @admin.display(description=_("applicant"))
    def masked_applicant(self, employment: Employment) -> str:
        return str(employment.applicant)

    @admin.display(description=_("overdue"), boolean=True)
    def is_overdue(self, employment: Employment) -> bool:
        """As applicants.selectors.employment_overdue_list: unregistered and the deadline passed,
        whether or not the employment has ended since (art. 58)."""
        today = timezone.localdate()
        return employment.registered_on is None and employment.registration_deadline < today


@admin.register(RegistryRecord)
class RegistryRecordAdmin(PostedSearchMixin, admin.ModelAdmin):
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
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    sortable_by = ()
    ordering = ("-pk",)

    def find_url(self) -> str:
        return reverse("admin:applicants_registryrecord_find")

    def get_urls(self):
        return [
            path(
                "find/",
                self.admin_site.admin_view(self.find_view),
                name="applicants_registryrecord_find",
            ),
            *super().get_urls(),
        ]

    def find_view(self, request):
        """POST a document number: its exact record opens, by the unique (type, number) index."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        listing = reverse("admin:applicants_registryrecord_changelist")
        number = normalise_id_number(request.POST.get("q", "")) if request.method == "POST" else ""
        record = None
        if number:
            record = (
                RegistryRecord.objects.filter(id_type__in=IdDocumentType.values, id_number=number)
                .order_by("pk")
                .first()
            )
        if record is None:
            messages.warning(request, _("No registry record has exactly this document number."))
            return HttpResponseRedirect(listing)
        return HttpResponseRedirect(
            reverse("admin:applicants_registryrecord_change", args=[record.pk])
        )

    @admin.display(description=_("name"))
    def masked_name(self, record: RegistryRecord) -> str:
        return record.name_masked

    @admin.display(description=_("identity document number"))
    def masked_id_number(self, record: RegistryRecord) -> str:
        return record.id_number_masked
