"""Admin screens for partner banks, service points and staff: the system administrator manages
banks and points, the security administrator staff, their second factor and the banks' API keys;
staff see the banks and points, a supervisor the staff of their own point."""

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.services import two_factor_device, two_factor_enrol
from agencies.models import BankApiKey, PartnerBank, PlatformApiKey, ServicePoint, Staff
from agencies.services import (
    bank_api_key_revoke,
    staff_assign,
    staff_remove,
    staff_validate,
)
from common.admin_lists import PostedSearch
from common.errors import ApplicationError


@admin.register(PartnerBank)
class PartnerBankAdmin(PostedSearch, admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "active", "api_full_id_number", "api_phone")
    list_filter = ("active",)
    search_fields = ("code", "name_zh", "name_en")

    # The partner data policy: only with its own permission (the security administrator's).
    POLICY_FIELDS = ("api_full_id_number", "api_phone")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        user = request.user
        if not user.has_perm("agencies.change_data_policy"):
            readonly += [f for f in self.POLICY_FIELDS if f not in readonly]
        elif not user.is_superuser:
            # The security administrator sets the policy and nothing else of the bank (its
            # reference data is the system administrator's).
            other = [f.name for f in self.model._meta.fields if f.editable]
            readonly += [f for f in other if f not in self.POLICY_FIELDS and f not in readonly]
        return readonly


@admin.register(ServicePoint)
class ServicePointAdmin(PostedSearch, admin.ModelAdmin):
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
class StaffAdmin(PostedSearch, admin.ModelAdmin):
    form = StaffForm
    list_display = ("user", "role", "service_point", "bank", "two_factor")
    list_filter = ("role", "service_point__kind", "service_point__district")
    actions = ("reset_two_factor",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "service_point__code")
    search_help_text = _("Username, name or service point code")
    list_select_related = ("user", "service_point", "bank")
    autocomplete_fields = ("service_point", "bank")
    raw_id_fields = ("user",)

    def get_queryset(self, request):
        """A supervisor sees the staff of their own service point; a security administrator
        (who may change staff) and a superuser everyone."""
        queryset = super().get_queryset(request)
        if request.user.is_superuser or request.user.has_perm("agencies.change_staff"):
            return queryset
        staff = Staff.objects.filter(user=request.user).only("service_point_id").first()
        if staff is None or staff.service_point_id is None:
            return queryset.none()
        return queryset.filter(service_point_id=staff.service_point_id)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def has_change_permission(self, request, obj=None):
        # Nobody changes their own role (a security administrator who could would be anyone).
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("two-factor"), boolean=True)
    def two_factor(self, staff):
        return two_factor_device(staff.user) is not None

    @admin.action(
        description=_("Reset two-factor: a new authenticator key"), permissions=["change"]
    )
    def reset_two_factor(self, request, queryset):
        """Enrol (or re-enrol after a lost phone) the selected staff members' authenticator:
        the key is shown once, here, as a QR code for their app (accounts.services)."""
        enrolled = []
        for staff in queryset.select_related("user")[:20]:
            try:
                _device, uri = two_factor_enrol(user=staff.user, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, exc.message, level=messages.ERROR)
                continue
            enrolled.append(
                {
                    "username": staff.user.get_username(),
                    "uri": uri,
                    "qr": segno.make(uri).svg_inline(scale=4),
                }
            )
        if not enrolled:
            return None
        return TemplateResponse(
            request,
            "admin/agencies/staff/two_factor_keys.html",
            {
                **self.admin_site.each_context(request),
                "title": _("New authenticator keys"),
                "enrolled": enrolled,
            },
        )

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

    def delete_model(self, request, obj):
        """Through agencies.services.staff_remove: the user leaves their role group and the
        admin with the row."""
        staff_remove(staff=obj)

    def delete_queryset(self, request, queryset):
        for staff in queryset:
            staff_remove(staff=staff)


@admin.register(BankApiKey)
class BankApiKeyAdmin(PostedSearch, admin.ModelAdmin):
    """Keys are created by `manage.py create_bank_key` (the key is shown once, there); here they
    are looked at and revoked. A revoked key stays, for the record."""

    list_display = (
        "prefix",
        "bank",
        "name",
        "sandbox",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("bank", "sandbox", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "bank__code")
    list_select_related = ("bank",)
    fields = ("bank", "name", "prefix", "sandbox", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("bank", "prefix", "sandbox", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke the selected API keys"))
    def revoke(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            bank_api_key_revoke(api_key=api_key)
            revoked += 1
        self.message_user(
            request,
            ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", revoked)
            % {"count": revoked},
        )


@admin.register(PlatformApiKey)
class PlatformApiKeyAdmin(BankApiKeyAdmin):
    """The online service platform's keys (`manage.py create_platform_key`): looked at and
    revoked here, like a bank's."""

    list_display = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name")
    list_select_related = ()
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
