"""Admin screen for the holiday calendar (superusers enter a year's official schedule; supervisors
see it), and what every scoped admin shares."""

from django.contrib import admin
from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from common.models import CalendarDay, CalendarYear


class ReadOnly:
    """For an admin or inline that only shows: no add, change or delete, whoever asks (changes go
    through the services)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    fields = ("date", "is_working_day", "name")
    extra = 0
    ordering = ("date",)


@admin.register(CalendarYear)
class CalendarYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "day_count", "note")
    list_filter = ("source",)
    inlines = (CalendarDayInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(day_count=Count("days"))

    @admin.display(description=_("exception days"), ordering="day_count")
    def day_count(self, year: CalendarYear) -> int:
        return year.day_count


class OutOfScopeIs404:
    """For a ModelAdmin whose get_queryset is scoped to the user (cards/counter/scope.py): an object
    outside it is "not found" (404) on its change, history and delete pages, not the admin's
    redirect with a message that names the object's id."""

    def get_object(self, request, object_id, from_field=None):
        # Read once per request: a change page that builds its context first (the card page)
        # and Django's change_view after it would otherwise read the scoped row twice.
        read = request.__dict__.setdefault("_scoped_objects", {})
        key = (self.model._meta.label, str(object_id), from_field)
        if key not in read:
            read[key] = super().get_object(request, object_id, from_field)
        obj = read[key]
        if obj is None:
            raise Http404(_("Not found here."))
        return obj
