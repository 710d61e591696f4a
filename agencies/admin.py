"""Admin screens for partner banks, service points and staff (the full clerk screens come later)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from agencies.models import PartnerBank, ServicePoint, Staff
from agencies.services import staff_assign, staff_validate
from common.errors import ApplicationError


@admin.register(PartnerBank)
class PartnerBankAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "active")
    list_filter = ("active",)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "district", "bank", "phone", "active")
    list_filter = ("kind", "district", "active", "bank")
    search_fields = ("code", "name", "address")
    list_select_related = ("bank",)


class StaffForm(forms.ModelForm):
    """Checks the assignment with the service's own rules, so the clerk sees its message."""

    class Meta:
        model = Staff
        fields = ("user", "role", "service_point", "bank")

    def clean(self):
        cleaned = super().clean()
        try:
            staff_validate(
                role=cleaned.get("role") or "",
                service_point=cleaned.get("service_point"),
                bank=cleaned.get("bank"),
            )
        except ApplicationError as exc:
            raise ValidationError(exc.details or exc.message) from exc
        return cleaned


@admin.register(Staff)
class StaffAdmin(admin.ModelAdmin):
    form = StaffForm
    list_display = ("user", "role", "service_point", "bank")
    list_filter = ("role", "service_point__kind", "service_point__district")
    search_fields = ("user__username", "user__first_name", "user__last_name", "service_point__code")
    search_help_text = _("Username, name or service point code")
    list_select_related = ("user", "service_point", "bank")
    autocomplete_fields = ("service_point", "bank")
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        # The staff row belongs to its user: move a person by editing their row, not by
        # re-pointing it at someone else (whose role group would then be stale).
        return ("user",) if obj else ()

    def save_model(self, request, obj, form, change):
        """Through agencies.services.staff_assign, so the user's role group follows the role."""
        staff = staff_assign(
            user=obj.user, role=obj.role, service_point=obj.service_point, bank=obj.bank
        )
        obj.pk = staff.pk
        obj._state.adding = False
