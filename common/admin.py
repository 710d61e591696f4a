"""Admin screen for the holiday calendar: a supervisor enters a year's official schedule."""

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from common.models import CalendarDay, CalendarYear


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
