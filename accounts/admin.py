"""The login log for the auditor, and the user accounts for the security administrator."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import LoginEvent
from common.admin import ReadOnly
from common.admin_lists import PostedSearch


@admin.register(LoginEvent)
class LoginEventAdmin(PostedSearch, ReadOnly, admin.ModelAdmin):
    """Every login, logout, failed login and lockout (the auditor reviews it; nobody edits it)."""

    list_display = ("at", "kind", "username", "reason", "ip_address", "user_agent")
    list_filter = ("kind", "reason")
    search_fields = ("=username", "=ip_address")
    search_help_text = _("Exact username or address")
    date_hierarchy = "at"
    show_full_result_count = False
    list_per_page = 100


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(PostedSearch, UserAdmin):
    """Django's user admin, narrowed for the security administrator: a role comes with a staff
    row (agencies.services.staff_assign), never with a group or a permission set here, and
    superusers (break-glass accounts) and one's own account are not theirs to change."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(is_superuser=False).exclude(pk=request.user.pk)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f == "is_active"]})
            if name == _("Permissions")
            else (name, options)
            for name, options in fieldsets
        ]

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return super().get_list_filter(request)
        return ("is_active",)
