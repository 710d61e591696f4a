"""The auditor's read-only screens of the personal-data logs: who changed a person (with the
values masked), who read a person's full data, who was anonymised. Nobody edits or deletes a row;
the roles that act on people (clerk, supervisor) do not see these logs, and the auditor, who
sees them, acts on nobody (agencies/roles.py).

Found by the person's exact document number, posted (never in a URL): the rows of that person.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from applicants.selectors import applicant_get_by_document
from common.admin import ReadOnly
from common.admin_lists import CityLogAdmin, NoSearchInUrl, PostedSearch
from privacy.models import Anonymisation, PersonalDataAccess, PersonChange


class PersonLogAdmin(PostedSearch, CityLogAdmin, ReadOnly, admin.ModelAdmin):
    """A log of rows about people, searched by one person's exact document number."""

    search_fields = ("applicant_id",)  # the posted search term is resolved below, never matched
    search_help_text = _("The person's exact document number")
    list_select_related = ("applicant", "user", "bank", "service_point")
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(self, request, queryset, search_term):
        term = request.session.get(self._posted_search_key(), "")
        if not term:
            return queryset, False
        person = applicant_get_by_document(id_number=term)
        return queryset.filter(applicant_id=person.pk if person else None), False

    @admin.display(description=_("applicant"))
    def person(self, row) -> str:
        return str(row.applicant)  # masked name and number


@admin.register(PersonChange)
class PersonChangeAdmin(PersonLogAdmin):
    """Every change to a person, employment or enrolment, with the values masked."""

    list_display = ("at", "action", "person", "actor_kind", "user", "bank", "channel", "shown")
    list_filter = ("action", "actor_kind", "channel")
    fields = (
        "at",
        "action",
        "person",
        "object_type",
        "object_id",
        "actor_kind",
        "user",
        "bank",
        "service_point",
        "channel",
        "shown",
    )
    readonly_fields = fields

    @admin.display(description=_("before → after"))
    def shown(self, row: PersonChange):
        return format_html_join(
            "; ",
            "{}: {} → {}",
            (
                (field, change.get("before") or "-", change.get("after") or "-")
                for field, change in sorted(row.changes.items())
            ),
        )


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(PersonLogAdmin):
    """Every read of a person's full ID number or whole record: who, whose, when, why, where."""

    list_display = (
        "at",
        "purpose",
        "person",
        "field",
        "channel",
        "user",
        "bank",
        "service_point",
        "card_id",
    )
    list_filter = ("purpose", "channel")
    fields = list_display
    readonly_fields = list_display


@admin.register(Anonymisation)
class AnonymisationAdmin(CityLogAdmin, ReadOnly, admin.ModelAdmin):
    """The people anonymised by the retention schedule (privacy/retention.py)."""

    list_display = ("at", "rule", "applicant_id")
    list_filter = ("rule",)
    show_facets = admin.ShowFacets.NEVER


def _post_the_searches_of_other_apps() -> None:
    """The lists of the installed packages that search (lockouts and access logs by address and
    username, authenticators by username, groups, schedules): their searches posted too, so that
    no list of the admin carries a search term in its URL (access logs keep URLs)."""
    for model, model_admin in list(admin.site._registry.items()):
        if model_admin.search_fields and not isinstance(model_admin, NoSearchInUrl):
            posted = type(
                f"Posted{type(model_admin).__name__}", (PostedSearch, type(model_admin)), {}
            )
            admin.site.unregister(model)
            admin.site.register(model, posted)


_post_the_searches_of_other_apps()  # the last app with an admin: every other one is registered
