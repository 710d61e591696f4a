"""The partner-bank API for a card's functions (issue #17): the financial function (activate,
freeze, unfreeze, report lost) and the replacement fee's payment. Thin, like cards/api/views.py:
the bank's own card or 404, one service, the card in full; every POST idempotent."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers

from cards.api import selectors, serializers
from cards.api.views import (
    CARD_ID,
    IDEMPOTENCY_KEY,
    POST_ERRORS,
    BankAPIView,
    _errors,
)
from cards.choices import FunctionAction
from cards.services import card_fee_pay, card_financial_change


class FinancialInputSerializer(drf_serializers.Serializer):
    reference = serializers.StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The bank's own reference of the act (kept on the card's history)."),
    )


class FeePaidInputSerializer(drf_serializers.Serializer):
    payment_reference = serializers.Text(
        max_length=64, help_text=_("The bank's reference of the payment collected.")
    )


class FinancialView(BankAPIView):
    action: str

    def post(self, request, card_id: str):
        def act():
            card = selectors.card_api_find(bank=self.bank, public_id=card_id)
            data = self.valid(FinancialInputSerializer, request.data)
            card = card_financial_change(
                card=card, actor=self.actor(), action=self.action, reference=data["reference"]
            )
            return self.card_response(card)

        return self.idempotent(act)


FINANCIAL_RULES = (
    " Only the card's own bank (another bank's card: 404). 409 `not_applicable` for a card whose "
    "rule set has no financial function (seed-2019) or that is not a bank card; 409 "
    "`financial_change_not_allowed` when the function's or the card's state does not allow it. "
    "The change is an event (`card.financial_status_changed`) in GET /events and the webhook."
)


def _financial_schema(operation_id: str, summary: str, description: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description + FINANCIAL_RULES,
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=FinancialInputSerializer,
        responses={200: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )


class FinancialActivateView(FinancialView):
    action = FunctionAction.FINANCIAL_ACTIVATE

    @_financial_schema(
        "cards_financial_activate",
        "The financial function is activated",
        "Activated in person at the bank (`not_activated` to `active`), on an issued card.",
    )
    def post(self, request, card_id: str):
        return super().post(request, card_id)


class FinancialFreezeView(FinancialView):
    action = FunctionAction.FINANCIAL_FREEZE

    @_financial_schema(
        "cards_financial_freeze",
        "The financial function is frozen",
        "`active` to `frozen`; also while the social security function is reported lost.",
    )
    def post(self, request, card_id: str):
        return super().post(request, card_id)


class FinancialUnfreezeView(FinancialView):
    action = FunctionAction.FINANCIAL_UNFREEZE

    @_financial_schema(
        "cards_financial_unfreeze",
        "The financial function is unfrozen",
        "`frozen` to `active`, on an issued card.",
    )
    def post(self, request, card_id: str):
        return super().post(request, card_id)


class FinancialReportLostView(FinancialView):
    action = FunctionAction.FINANCIAL_REPORT_LOST

    @_financial_schema(
        "cards_financial_report_lost",
        "The financial function is reported lost",
        "Reported lost at the bank (to `lost`, final: a replacement card brings a new financial "
        "function). The social security function's loss reports are separate.",
    )
    def post(self, request, card_id: str):
        return super().post(request, card_id)


class FeePaidView(BankAPIView):
    @extend_schema(
        operation_id="cards_fee_paid",
        summary="The replacement fee is paid at the bank",
        description=(
            "The bank collected the replacement card's fee (`due` to `paid`), with its payment "
            "reference. 409 `no_fee` for a card with no fee, `fee_not_due` for one paid or "
            "waived. Only the card's own bank (another bank's card: 404)."
        ),
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=FeePaidInputSerializer,
        responses={200: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )
    def post(self, request, card_id: str):
        def act():
            card = selectors.card_api_find(bank=self.bank, public_id=card_id)
            data = self.valid(FeePaidInputSerializer, request.data)
            card = card_fee_pay(
                card=card, actor=self.actor(), payment_reference=data["payment_reference"]
            )
            return self.card_response(card)

        return self.idempotent(act)
