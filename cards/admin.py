"""Cards in the admin: read-only here; every change goes through cards/services.py.

The counter's own screens (transition buttons, scope by service point, printing) are the clerk
admin issue's work; until then, clerks and supervisors can look, and nobody can edit a card.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cards import selectors
from cards.choices import CardStatus
from cards.models import Card, CardTransition, OutboxEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CardTransitionInline(admin.TabularInline):
    model = CardTransition
    fields = (
        "at",
        "name",
        "from_status",
        "to_status",
        "actor_kind",
        "service_point",
        "bank",
        "channel",
        "reason",
    )
    readonly_fields = fields
    ordering = ("id",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Card)
class CardAdmin(ReadOnlyAdmin):
    list_display = (
        "receipt",
        "card_type",
        "state_in_force",
        "holder",
        "holder_id",
        "bank",
        "service_point",
        "applied_at",
    )
    list_filter = ("status", "card_type", "channel", "bank")
    list_select_related = ("applicant", "bank", "service_point")
    search_help_text = _("Exact ID number, receipt number or card number.")
    search_fields = ("receipt_number",)
    inlines = [CardTransitionInline]
    exclude = ("agent_id_number",)

    def get_queryset(self, request):
        return selectors.with_effective_status(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        if not search_term:
            return queryset, False
        matches = selectors.card_find(query=search_term).values("pk")
        return queryset.filter(pk__in=matches), False

    @admin.display(description=_("receipt number"), ordering="receipt_number")
    def receipt(self, card):
        return card.receipt_number_display

    @admin.display(description=_("state"), ordering="status")
    def state_in_force(self, card):
        return CardStatus(card.effective_status).label

    @admin.display(description=_("holder"))
    def holder(self, card):
        return card.applicant.name_masked

    @admin.display(description=_("ID number"))
    def holder_id(self, card):
        return card.applicant.id_number_masked


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "bank", "created_at", "delivered_at", "attempts")
    list_filter = ("kind", "bank")
    list_select_related = ("bank",)
