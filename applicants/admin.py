"""Admin screens for people, employers, employments and the registry table.

Lists show names and document numbers masked (PIPL: PRODUCT.md "Privacy"); a clerk finds a person
by the exact document number. A clerk sees only the people of their own service point's cards and
people with no card yet (cards/counter/scope.py); a full number is shown only after a logged reveal.
New people are registered at the counter (cards/counter/views.py), through applicants.services.

A person's page shows every personal value masked; each is revealed on its own, for one page, by a
logged POST (privacy.PersonalDataAccess). A correction is typed as a new value (empty: kept), so a
clerk changes a phone without seeing the old one, and is saved through
applicants.services.applicant_update, which audits it (privacy.PersonChange).
"""

import time

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from applicants.forms import EnrolmentForm
from applicants.identity import normalise_id_number
from applicants.models import (
    Applicant,
    Employer,
    Employment,
    InsuranceEnrolment,
    RegistryRecord,
    id_number_index,
)
from applicants.selectors import (
    LATE_WINDOW_DAYS,
    ROLLUP_LIMIT,
    employer_overdue_rollup,
    employment_overdue_list,
)
from applicants.services import applicant_create, applicant_update
from cards.actors import Actor
from cards.choices import ActorKind, Channel
from cards.counter import scope
from cards.counter.views import record_reveal, take_revealed
from common.admin import OutOfScopeIs404, ReadOnly
from common.admin_lists import CITY_LIST_PAGE, BoundedPaginator, NoSearchInUrl, PostedSearch
from common.errors import ApplicationError
from common.masking import mask_address, mask_name, mask_phone
from privacy.access import admin_reveal_read
from privacy.copy import person_copy_context

# The personal values of a person's page: masked until revealed, one at a time (the document
# number has its own reveal, shared with the counter: cards.counter.views.record_reveal).
REVEALABLE = {
    "name": mask_name,
    "hukou_place": mask_address,
    "phone": mask_phone,
    "address": mask_address,
}
FIELD_REVEAL_SESSION_KEY = "applicants_revealed_fields"
FIELD_REVEAL_SECONDS = 120


def _take_revealed_field(request, applicant, field: str) -> bool:
    """Whether to show this value in full on this page (once per logged reveal)."""
    revealed = request.session.get(FIELD_REVEAL_SESSION_KEY) or {}
    until = revealed.pop(f"{applicant.pk}:{field}", 0)
    if until:
        request.session[FIELD_REVEAL_SESSION_KEY] = revealed
    return until >= time.time()


def _actor(request) -> Actor:
    """Who corrects a person in the admin: the desk's actor, or a staff-less superuser as a user."""
    desk = scope.desk_of(request)
    return desk.actor or Actor(
        kind=ActorKind.USER, user=request.user, service_point=desk.point, channel=Channel.COUNTER
    )


PLAIN_FIELDS = ("sex", "birth_date", "nationality", "shanghai_hukou")  # shown as they are


class ApplicantChangeForm(forms.ModelForm):
    """A person's record, corrected: the personal values are typed anew, never shown in an input."""

    new_name = forms.CharField(label=_("new name"), max_length=64, required=False)
    new_hukou_place = forms.CharField(
        label=_("new place of household registration"), max_length=128, required=False
    )
    new_phone = forms.CharField(label=_("new phone"), max_length=32, required=False)
    new_address = forms.CharField(label=_("new home address"), max_length=255, required=False)

    class Meta:
        model = Applicant
        fields = PLAIN_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, mask in REVEALABLE.items():
            self.fields[f"new_{field}"].help_text = _("Now: %(value)s. Empty: kept.") % {
                "value": mask(getattr(self.instance, field)) or "-"
            }

    def _post_clean(self):
        # Validate the record as it would be saved: the new values in place.
        for field in REVEALABLE:
            value = (self.cleaned_data.get(f"new_{field}") or "").strip()
            if value:
                setattr(self.instance, field, value)
        super()._post_clean()

    def corrections(self) -> dict:
        changed = {f: self.cleaned_data[f] for f in PLAIN_FIELDS if f in self.changed_data}
        for field in REVEALABLE:
            value = (self.cleaned_data.get(f"new_{field}") or "").strip()
            if value:
                changed[field] = value
        return changed


CHANGE_FIELDS = [
    "id_type",
    "masked_id_number",
    "new_name",
    "sex",
    "birth_date",
    "nationality",
    "shanghai_hukou",
    "new_hukou_place",
    "new_phone",
    "new_address",
    "created_at",
    "updated_at",
]


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
    list_per_page = CITY_LIST_PAGE
    # People, employers and employments have history (PROTECT): never bulk-deleted from a
    # list, and no checkbox to render on every row.
    actions = None
    sortable_by = ()  # the order an index serves (get_ordering)
    change_form_template = "admin/applicants/applicant_change_form.html"

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            kwargs["form"] = ApplicantChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is not None:  # the document is the person's identity: shown masked, never edited
            return CHANGE_FIELDS
        return list(super().get_fields(request, obj))

    def save_model(self, request, obj, form, change):
        """Every write through the services: a correction audited (applicant_update); a person
        added by a superuser created as at the counter (applicant_create)."""
        if change:
            applicant_update(applicant=obj, actor=_actor(request), **form.corrections())
            obj.refresh_from_db()
            return
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if hasattr(obj, f)}
        created = applicant_create(**data, actor=_actor(request))
        obj.pk = created.pk
        obj.refresh_from_db()

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
                "<path:object_id>/copy/",
                self.admin_site.admin_view(self.copy_view),
                name="applicants_applicant_copy",
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
        form = EnrolmentForm(
            request.POST or None, applicant=applicant, actor=scope.desk_of(request).actor
        )
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
        """Show one full value once (POST `field`: the document number by default); the look is
        logged (privacy.PersonalDataAccess, the one read log)."""
        applicant = self.get_object(request, unquote(object_id))  # 404 outside the scope
        if request.method == "POST":
            field = request.POST.get("field") or "id_number"
            if field == "id_number":
                record_reveal(request, applicant=applicant)
            elif field in REVEALABLE:
                if not request.user.has_perm("cards.reveal_id_number"):
                    raise PermissionDenied
                admin_reveal_read(request, applicant=applicant, field=field)
                revealed = request.session.get(FIELD_REVEAL_SESSION_KEY) or {}
                revealed[f"{applicant.pk}:{field}"] = time.time() + FIELD_REVEAL_SECONDS
                request.session[FIELD_REVEAL_SESSION_KEY] = revealed
            else:
                raise Http404
        return HttpResponseRedirect(
            reverse("admin:applicants_applicant_change", args=[applicant.pk])
        )

    def copy_view(self, request, object_id):
        """The person's copy of everything held about them (PIPL art. 45), printed at the counter
        for the person in front of the clerk; each print is a logged read."""
        applicant = self.get_object(request, unquote(object_id))  # 404 outside the scope
        desk = scope.desk_of(request)
        if not (desk.is_superuser or desk.takes_applications):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **person_copy_context(request, applicant),
            "title": _("Copy of personal data"),
            "opts": self.model._meta,
        }
        response = TemplateResponse(request, "admin/applicants/person_copy.html", context)
        add_never_cache_headers(response)  # no copy kept in a browser or proxy cache
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        applicant = self.get_object(request, unquote(object_id))
        revealed = take_revealed(request, applicant)
        desk = scope.desk_of(request)
        personal = []
        for field, mask in REVEALABLE.items():
            shown = _take_revealed_field(request, applicant, field)
            value = getattr(applicant, field)
            personal.append(
                {
                    "field": field,
                    "label": Applicant._meta.get_field(field).verbose_name,
                    "value": value if shown else mask(value),
                    "revealed": shown,
                    "can_reveal": bool(value) and not shown,
                }
            )
        context = {
            "personal": personal,
            "copy_url": reverse("admin:applicants_applicant_copy", args=[applicant.pk])
            if desk.is_superuser or desk.takes_applications
            else "",
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


class ExactCodeSearch:
    """The search box takes one exact code, looked up by its unique index (Django's `=field`
    search compares upper-cased values, which no index serves: a scan of every employer)."""

    exact_search_field = "uscc"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        if not term:
            return queryset, False
        return queryset.filter(**{self.exact_search_field: term}), False


@admin.register(Employer)
class EmployerAdmin(PostedSearch, ExactCodeSearch, admin.ModelAdmin):
    list_display = ("name", "uscc", "kind", "district")
    list_filter = ("kind", "district")
    # The exact code, by its unique index: a substring of a name would read every employer.
    search_fields = ("=uscc",)
    search_help_text = _("The exact unified social credit code")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    list_per_page = CITY_LIST_PAGE
    # People, employers and employments have history (PROTECT): never bulk-deleted from a
    # list, and no checkbox to render on every row.
    actions = None
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
class EmploymentAdmin(OutOfScopeIs404, PostedSearch, ExactCodeSearch, admin.ModelAdmin):
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
    exact_search_field = "employer__uscc"
    search_help_text = _("The employer's exact unified social credit code")
    raw_id_fields = ("applicant", "employer")
    readonly_fields = ("registration_deadline",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    list_per_page = CITY_LIST_PAGE
    # People, employers and employments have history (PROTECT): never bulk-deleted from a
    # list, and no checkbox to render on every row.
    actions = None
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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The person is chosen by id (raw_id_fields) among the people the desk sees: the
        # choices are one probe of that scope, never the applicant list's own ordering (an
        # alias of the point's scope that Applicant.objects does not have: a 500).
        if db_field.name == "applicant":
            kwargs["queryset"] = scope.applicants_visible_to(scope.desk_of(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("applicant"))
    def masked_applicant(self, employment: Employment) -> str:
        return str(employment.applicant)

    @admin.display(description=_("overdue"), boolean=True)
    def is_overdue(self, employment: Employment) -> bool:
        """As applicants.selectors.employment_overdue_list: unregistered and the deadline passed,
        whether or not the employment has ended since (art. 58)."""
        today = timezone.localdate()
        return employment.registered_on is None and employment.registration_deadline < today


REGISTRY_SHOWN = (
    "masked_name",
    "id_type",
    "masked_id_number",
    "sex",
    "birth_date",
    "nationality",
    "shanghai_hukou",
    "masked_hukou_place",
    "masked_registered_address",
    "updated_at",
)


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
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = BoundedPaginator
    sortable_by = ()
    ordering = ("-pk",)

    def find_url(self) -> str:
        return reverse("admin:applicants_registryrecord_find")

    def get_fields(self, request, obj=None):
        if obj is not None:  # the municipal center's record: shown masked, changed at the source
            return REGISTRY_SHOWN
        return list(super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return REGISTRY_SHOWN if obj is not None else ("updated_at",)

    @admin.display(description=_("place of household registration"))
    def masked_hukou_place(self, record: RegistryRecord) -> str:
        return mask_address(record.hukou_place)

    @admin.display(description=_("registered address"))
    def masked_registered_address(self, record: RegistryRecord) -> str:
        return mask_address(record.registered_address)

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
                RegistryRecord.objects.filter(id_number_bidx=id_number_index(number))
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
