"""A partner bank's sandbox for integrators (cards/sandbox.py): only a sandbox key
(`manage.py create_bank_key CODE --sandbox`) may use these endpoints, and a sandbox key may use
no other (cards.api.authentication.IsPartnerBank), so it never sees or changes a real card, and a
real key never sees a sandbox card.

  GET  /api/v1/sandbox/cards                      the bank's test cards, newest first
  POST /api/v1/sandbox/cards                      a new test card, `applied`
  GET  /api/v1/sandbox/cards/{id}                 one, with its history and next transitions
  POST /api/v1/sandbox/cards/{id}/advance         the next step, or a named transition
"""

from __future__ import annotations

import uuid

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cards.api import serializers
from cards.api.authentication import IsSandboxBank
from cards.api.views import CARD_ID, IDEMPOTENCY_KEY, POST_ERRORS, BankAPIView, _errors
from cards.models import SandboxCard
from cards.sandbox import sandbox_card_advance, sandbox_card_create
from common.idempotency import idempotent

_CARD = serializers.SandboxCardSerializer()
LIST_LIMIT = 100


def sandbox_card_get(*, bank, card_id: str) -> SandboxCard:
    """One of the bank's sandbox cards; 404 for any other id (a real card's too)."""
    try:
        key = uuid.UUID(str(card_id))
    except ValueError:
        raise Http404 from None
    card = SandboxCard.objects.filter(bank=bank, public_id=key).first()
    if card is None:
        raise Http404
    return card


class SandboxAPIView(BankAPIView):
    permission_classes = [IsSandboxBank]

    def idempotent(self, act) -> Response:
        scope = f"sandbox:{self.bank.pk}"
        return idempotent(request=self.request, view=self, scope=scope, act=act)


class SandboxCardsView(SandboxAPIView):
    @extend_schema(
        operation_id="sandbox_cards_list",
        summary="The bank's sandbox test cards (sandbox keys only)",
        responses={200: serializers.SandboxCardPageSerializer, **_errors(401, 403, 429)},
        tags=["sandbox"],
    )
    def get(self, request):
        self.query(serializers.NoParamsSerializer)  # no parameter: 400 naming any given
        cards = SandboxCard.objects.filter(bank=self.bank).order_by("-id")[:LIST_LIMIT]
        return Response({"results": [_CARD.to_representation(card) for card in cards]})

    @extend_schema(
        operation_id="sandbox_cards_create",
        summary="A new sandbox test card, applied (sandbox keys only)",
        request=serializers.SandboxCardInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: serializers.SandboxCardSerializer, **_errors(*POST_ERRORS)},
        tags=["sandbox"],
    )
    def post(self, request):
        def act() -> Response:
            data = self.valid(serializers.SandboxCardInputSerializer, request.data)
            card = sandbox_card_create(bank=self.bank, card_type=data["card_type"])
            return Response(_CARD.to_representation(card), status=status.HTTP_201_CREATED)

        return self.idempotent(act)


class SandboxCardView(SandboxAPIView):
    @extend_schema(
        operation_id="sandbox_cards_retrieve",
        summary="One sandbox test card (sandbox keys only)",
        parameters=[CARD_ID],
        responses={200: serializers.SandboxCardSerializer, **_errors(401, 403, 404, 429)},
        tags=["sandbox"],
    )
    def get(self, request, card_id: str):
        return Response(_CARD.to_representation(sandbox_card_get(bank=self.bank, card_id=card_id)))


class SandboxAdvanceView(SandboxAPIView):
    @extend_schema(
        operation_id="sandbox_cards_advance",
        summary="Move a sandbox test card on by one transition (sandbox keys only)",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=serializers.SandboxAdvanceInputSerializer,
        responses={200: serializers.SandboxCardSerializer, **_errors(*POST_ERRORS)},
        tags=["sandbox"],
    )
    def post(self, request, card_id: str):
        """The next step of the happy path (applied, verified, ready for collection, issued), or
        the named transition among the card's `next_transitions`; 409 otherwise."""

        def act() -> Response:
            card = sandbox_card_get(bank=self.bank, card_id=card_id)
            data = self.valid(serializers.SandboxAdvanceInputSerializer, request.data)
            card = sandbox_card_advance(card=card, transition=data["transition"])
            return Response(_CARD.to_representation(card))

        return self.idempotent(act)
