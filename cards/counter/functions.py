"""The counter's screens for a card's functions (issue #17): the panel on the card page (financial
function, electronic card, social security number, replacement fee, PIN services and their log),
and two small forms: a PIN reset or unlock (any clerk, with the holder's document and the card)
and a fee waiver (a supervisor, with the reason). Each form calls one service; the URLs hang off
the function-event log's admin (cards_cardfunctionevent_pin, cards_cardfunctionevent_waive_fee).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from agencies.choices import StaffRole
from cards import electronic, services
from cards.actors import Actor
from cards.choices import (
    ActorKind,
    CardStatus,
    CardType,
    ElectronicCardStatus,
    FeeStatus,
    FinancialStatus,
    FunctionAction,
)
from cards.counter import scope
from cards.counter.forms import CardPresentedField, _id_number_field, add_refusal
from cards.models import (
    Card,
    CardFee,
    CardFunctionEvent,
    ElectronicCardEvent,
    ElectronicCardReceipt,
)
from common.admin import ReadOnly
from common.admin_lists import CityLogAdmin, ExactIdSearch, PostedSearch
from common.errors import ApplicationError
from common.masking import mask_id_number

PANEL_EVENTS = 20  # the newest function events on the card page; the auditor has the whole log


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def fee_of(card: Card) -> CardFee | None:
    return CardFee.objects.filter(card_id=card.pk).first()


def functions_panel(request: HttpRequest, card: Card) -> dict[str, Any]:
    """What the card page shows of the card's functions (context key `functions`)."""
    desk = scope.desk_of(request)
    actor = desk.actor
    fee = fee_of(card)
    events = list(
        CardFunctionEvent.objects.filter(card_id=card.pk)
        .select_related("actor_user", "bank", "service_point")
        .order_by("-id")[:PANEL_EVENTS]
    )
    is_staff_actor = actor is not None and actor.kind == ActorKind.USER
    may_pin = (
        is_staff_actor
        and actor.role in (StaffRole.CLERK, StaffRole.SUPERVISOR)
        and card.card_type == CardType.SOCIAL_SECURITY
        and card.status_at() == CardStatus.ISSUED
    )
    may_waive = (
        is_staff_actor
        and actor.role == StaffRole.SUPERVISOR
        and fee is not None
        and fee.status == FeeStatus.DUE
    )
    e_status = electronic.electronic_status(card)
    ssn = card.applicant.social_security_number
    return {
        "financial": FinancialStatus(card.financial_status).label
        if card.financial_status
        else None,
        "electronic": ElectronicCardStatus(e_status).label if e_status else None,
        "social_security_number": mask_id_number(ssn) if ssn else "",
        "fee": {
            "amount": yuan(fee.amount_fen),
            "status": FeeStatus(fee.status).label,
            "payment_reference": fee.payment_reference,
            "waiver_reason": fee.waiver_reason,
        }
        if fee
        else None,
        "pin_urls": [
            (
                FunctionAction(action).label,
                reverse("admin:cards_cardfunctionevent_pin", args=[card.pk, action]),
            )
            for action in (FunctionAction.PIN_RESET, FunctionAction.PIN_UNLOCK)
        ]
        if may_pin
        else [],
        "waive_url": reverse("admin:cards_cardfunctionevent_waive_fee", args=[card.pk])
        if may_waive
        else None,
        "events": [
            {
                "at": row.at,
                "what": row.get_action_display(),
                "change": " → ".join(v for v in (row.from_value, row.to_value) if v),
                "who": _who(row),
                "where": row.service_point.code if row.service_point_id else "",
                "reason": row.reason,
            }
            for row in events
        ],
    }


def _who(row: CardFunctionEvent) -> str:
    if row.actor_kind == ActorKind.USER and row.actor_user_id:
        return row.actor_user.get_username()
    if row.actor_kind == ActorKind.BANK and row.bank_id:
        return row.bank.code
    return gettext("System")


def receipt_functions(card: Card) -> dict[str, Any]:
    """What the application receipt prints of the card's functions: the replacement fee and the
    holder's social security number (masked, like the ID number on it)."""
    fee = fee_of(card)
    ssn = card.applicant.social_security_number
    return {
        "fee": {"amount": yuan(fee.amount_fen), "status": FeeStatus(fee.status).label}
        if fee
        else None,
        "social_security_number": mask_id_number(ssn) if ssn else "",
    }


class PinForm(forms.Form):
    title = _("PIN service")
    documents = (
        _("The holder's identity document (original)"),
        _("The card itself"),
    )
    id_number = _id_number_field(_("Holder's document number, as presented"))
    card_presented = CardPresentedField(_("The card was presented"))

    def __init__(self, *args, card: Card, action: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.card, self.action = card, action
        self.title = FunctionAction(action).label

    def perform(self, *, actor: Actor) -> Card:
        return services.card_pin_service(
            card=self.card,
            actor=actor,
            action=self.action,
            id_number=self.cleaned_data["id_number"],
            card_presented=self.cleaned_data["card_presented"],
        )


class FeeWaiverForm(forms.Form):
    title = _("Waive the replacement fee")
    documents = ()
    reason = forms.CharField(label=_("Reason for the waiver"), max_length=255)

    def __init__(self, *args, card: Card, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.card = card

    def perform(self, *, actor: Actor) -> Card:
        return services.card_fee_waive(
            card=self.card, actor=actor, reason=self.cleaned_data["reason"]
        )


@admin.register(ElectronicCardEvent)
class ElectronicCardEventAdmin(CityLogAdmin, ReadOnly, admin.ModelAdmin):
    """What has (not yet) reached the national platform of electronic cards."""

    list_display = (
        "id",
        "card_id",
        "transition",
        "from_status",
        "to_status",
        "at",
        "delivered_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("to_status",)
    show_facets = admin.ShowFacets.NEVER


@admin.register(ElectronicCardReceipt)
class ElectronicCardReceiptAdmin(
    PostedSearch, ExactIdSearch, CityLogAdmin, ReadOnly, admin.ModelAdmin
):
    """The local national-platform backend's inbox (the default): what the platform received."""

    list_display = ("id", "status", "card_number", "received_at", "times_received", "event_id")
    list_filter = ("status",)
    search_fields = ("event_id",)  # exactly (ExactIdSearch); the card number is encrypted
    exact_id_field = "event_id"
    search_help_text = _("An event id, exactly.")
    show_facets = admin.ShowFacets.NEVER


@admin.register(CardFunctionEvent)
class CardFunctionEventAdmin(CityLogAdmin, ReadOnly, admin.ModelAdmin):
    """The function-event log: the auditor's (whole city, read-only); clerks read a card's own on
    its page. Also the home of the two counter forms' URLs."""

    list_display = ("at", "action", "from_value", "to_value", "actor_kind", "card_id")
    list_filter = ("action",)
    show_facets = admin.ShowFacets.NEVER

    def has_module_permission(self, request):
        return request.user.has_perm("cards.audit_cardtransition")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("cards.audit_cardtransition")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "pin/<int:card_pk>/<str:action>/",
                wrap(self.pin_view),
                name="cards_cardfunctionevent_pin",
            ),
            path(
                "waive-fee/<int:card_pk>/",
                wrap(self.waive_fee_view),
                name="cards_cardfunctionevent_waive_fee",
            ),
            *super().get_urls(),
        ]

    def _card_and_actor(self, request: HttpRequest, card_pk: int) -> tuple[Card, Actor]:
        desk = scope.desk_of(request)
        card = scope.card_visible_to(desk, card_pk)
        if card is None:
            raise Http404(_("No such card here."))
        if desk.actor is None or desk.actor.kind != ActorKind.USER:
            raise PermissionDenied(_("You may not do this here, or not to this card."))
        return card, desk.actor

    def _form_page(self, request, form, card: Card, actor: Actor) -> HttpResponse:
        change_url = reverse("admin:cards_card_change", args=[card.pk])
        if request.method == "POST" and form.is_valid():
            try:
                form.perform(actor=actor)
            except ApplicationError as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, gettext("Done: %(what)s.") % {"what": form.title})
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": Card._meta,
            "title": str(form.title),
            "form": form,
            "card": card,
            "holder": card.applicant.name_masked,
            "holder_id": card.applicant.id_number_masked,
            "change_url": change_url,
        }
        return render(request, "admin/cards/card/function_form.html", context)

    def pin_view(self, request: HttpRequest, card_pk: int, action: str) -> HttpResponse:
        if action not in (FunctionAction.PIN_RESET, FunctionAction.PIN_UNLOCK):
            raise Http404
        card, actor = self._card_and_actor(request, card_pk)
        data = request.POST if request.method == "POST" else None
        return self._form_page(request, PinForm(data, card=card, action=action), card, actor)

    def waive_fee_view(self, request: HttpRequest, card_pk: int) -> HttpResponse:
        card, actor = self._card_and_actor(request, card_pk)
        if actor.role != StaffRole.SUPERVISOR:
            raise PermissionDenied(_("Only a supervisor waives a fee."))
        data = request.POST if request.method == "POST" else None
        return self._form_page(request, FeeWaiverForm(data, card=card), card, actor)
