"""The partner-bank API's views: validate, build the bank's Actor, call one service, render.

A bank sees and acts on only its own cards: every card is found through the bank's own queryset,
and another bank's card answers 404 exactly like one that does not exist. Every POST is idempotent
(common/idempotency.py).
"""

from __future__ import annotations

import datetime

import django_filters
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cards.actors import Actor
from cards.api import selectors, serializers
from cards.api.authentication import ApiKeyAuthentication, IsPartnerBank
from cards.api.sync import card_sync_horizon, encode_cursor, outbox_settled_id
from cards.api.throttling import ApiKeyRateThrottle
from cards.applications import ApplicantForm, EmployerForm, application_submit
from cards.batch import (
    MAX_ITEMS,
    BatchItem,
    cards_hand_over_batch,
    cards_mark_ready_batch,
    cards_withdraw_batch,
)
from cards.choices import CardStatus, CardType, Channel
from cards.models import Card
from cards.services import (
    Agent,
    OnlineCheckEvidence,
    card_hand_over,
    card_mark_ready,
    card_withdraw,
)
from common.api import DepthLimitedJSONParser, exception_handler
from common.errors import ApplicationError
from common.idempotency import HEADER, idempotent
from privacy.access import api_card_detail_read

# --- Schema helpers ---------------------------------------------------------------------------

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=r"^[\x21-\x7e]{1,255}$",
    description=(
        "Unique per request, kept 24 hours per bank (until exactly 24 h after the first request, "
        "exclusive): the same key with the same body answers the first response again without "
        "acting twice (`Idempotent-Replayed: true`); with another body or path, 422 "
        "`idempotency_key_reused`. Only a request that acted (2xx) consumes its key: a request "
        "refused before acting (401, 403, 404, 409, 413, 415, 422, 429, 503) or failing (5xx) "
        "keeps nothing, and the same key may be sent again."
    ),
)
CARD_ID = OpenApiParameter(
    "card_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The card's public id."
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    meaning = {
        400: "The body is not JSON (or holds a lone surrogate), or a query parameter is given "
        "empty, more than once or is unknown.",
        401: "No key, a wrong key or a revoked key.",
        403: "This key may not use this endpoint (a sandbox key acts only on /sandbox/, the "
        "online platform's only on /platform/, a bank's real key on neither).",
        404: "No such card (or another bank's card: the same answer).",
        409: "Not allowed in the card's current state (transition_not_allowed, ...).",
        413: "The body is too large.",
        415: "The body is not application/json.",
        422: "Invalid input: `details` names each field.",
        429: "Too many requests for this key; see Retry-After.",
        503: "Briefly unavailable (the per-key limiter cannot count); nothing was done. Retry "
        "after Retry-After.",
    }
    return {
        code: OpenApiResponse(serializers.ErrorSerializer, description=meaning[code])
        for code in (*codes, 503)  # every endpoint counts its requests
    }


POST_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429)


class JSONAlways(DefaultContentNegotiation):
    """The API speaks JSON whatever the client's Accept header says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# --- Base -------------------------------------------------------------------------------------


class BankAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsPartnerBank]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [DepthLimitedJSONParser]
    content_negotiation_class = JSONAlways

    @property
    def bank(self):
        return self.request.auth.bank

    def actor(self, channel: str = Channel.BANK_OUTLET) -> Actor:
        return Actor.for_bank(self.bank, channel=channel)

    def valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context={"bank": self.bank})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class) -> dict:
        """The query string's parameters: a parameter given empty (`?limit=`), unknown or more
        than once is 400, as the schema says (an empty value is not a value); an invalid one
        422, naming it."""
        names = set(serializer_class().fields)
        filterset = getattr(self, "filterset_class", None)
        if filterset is not None:
            names |= set(filterset.base_filters)
        empty = {
            name: [_("May not be empty: give a value or leave the parameter out.")]
            for name in sorted(names)
            if self.request.query_params.get(name, None) == ""
        }
        for name in sorted(set(self.request.query_params) - names):
            empty[name] = [_("Not a parameter of this endpoint.")]
        for name in sorted(names):
            # Two values of one parameter: which one the filter took would be a guess.
            if name not in empty and len(self.request.query_params.getlist(name)) > 1:
                empty[name] = [_("Given more than once: give it once.")]
        if empty:
            raise ApplicationError(
                _("A query parameter is empty or unknown."),
                code="invalid",
                details=empty,
                status=400,
            )
        return self.valid(serializer_class, self.request.query_params)

    def card_response(self, card: Card, status_code: int = status.HTTP_200_OK) -> Response:
        card = selectors.card_api_get(bank=self.bank, public_id=card.public_id)
        return Response(serializers.card_representation(card, self.bank), status=status_code)

    def idempotent(self, act) -> Response:
        return idempotent(request=self.request, view=self, scope=f"bank:{self.bank.pk}", act=act)


# --- Applications -----------------------------------------------------------------------------


class ApplicationsView(BankAPIView):
    @extend_schema(
        operation_id="applications_create",
        summary="Submit an application taken at the bank",
        request=serializers.ApplicationInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )
    def post(self, request):
        """An application taken at one of the bank's outlets, its app, WeChat or Alipay. Answers
        the new card, with its application receipt number."""

        def act() -> Response:
            data = self.valid(serializers.ApplicationInputSerializer, request.data)
            agent = (
                Agent(data["agent_name"], data["agent_id_type"], data["agent_id_number"])
                if data["agent_name"]
                else None
            )
            employer = EmployerForm(**data["employer"]) if data["employer"] else None
            card = application_submit(
                actor=self.actor(data["channel"]),
                applicant=ApplicantForm(**data["applicant"]),
                card_type=data["card_type"],
                channel=data["channel"],
                service_point=data["service_point"],
                collection_point=data["collection_point"],
                employer=employer,
                online_checks=tuple(
                    OnlineCheckEvidence(
                        kind=c["check"],
                        provider=c["provider"],
                        reference=c["reference"],
                        verified_at=c["verified_at"],
                        result=c["result"],
                    )
                    for c in data["online_checks"]
                ),
                agent=agent,
                photo_receipt_number=data["photo_receipt_number"],
                replaces=data["replaces"],
            )
            return self.card_response(card, status.HTTP_201_CREATED)

        return self.idempotent(act)


# --- Cards ------------------------------------------------------------------------------------


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 (and the schema) allow UTC offsets up to ±23:59, PostgreSQL only up to ±15:59: the
    time is compared in UTC, so any offset a client sends is taken, never a 500."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(datetime.UTC)
            except OverflowError:
                # Named as the client sent it (`updated_after`), not by the model's field.
                name = next(n for n, f in self.parent.filters.items() if f is self)
                raise exceptions.ValidationError({name: [_("The time is out of range.")]}) from None
        return super().filter(qs, value)


class CardFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        field_name="effective_status",
        choices=CardStatus.choices,
        help_text="The state in force.",
    )
    card_type = django_filters.ChoiceFilter(choices=CardType.choices)
    updated_after = UtcIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gt", help_text="Changed after this time (ISO 8601)."
    )

    class Meta:
        model = Card
        fields = ["status", "card_type", "updated_after"]


class CardListView(BankAPIView, GenericAPIView):
    filter_backends = [DjangoFilterBackend]
    filterset_class = CardFilter
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Card.objects.none()
        return selectors.card_api_queryset(bank=self.bank)

    @extend_schema(
        operation_id="cards_list",
        filters=True,
        summary="The bank's cards, to sync incrementally",
        parameters=[serializers.CardListParamsSerializer],
        responses={200: serializers.CardPageSerializer, **_errors(400, 401, 422, 429)},
    )
    def get(self, request):
        """The bank's cards in the order of their last change (`updated_at`, then id), masked.
        Follow `next_cursor` until `has_more` is false; keep the last cursor and sync again later
        from it: no change is missed and none is served twice. A change shows up here about
        API_SYNC_MARGIN (2 s) after it is committed."""
        params = self.query(serializers.CardListParamsSerializer)
        limit = params["limit"]
        queryset = self.filter_queryset(self.get_queryset())
        rows = selectors.card_api_sync_page(
            queryset, horizon=card_sync_horizon(), after=params.get("cursor"), limit=limit + 1
        )
        page = rows[:limit]
        if page:
            cursor = encode_cursor(page[-1].updated_at, page[-1].id)
        else:
            cursor = request.query_params.get("cursor")
        data = {
            "results": serializers.CardSummarySerializer(page, many=True).data,
            "next_cursor": cursor,
            "has_more": len(rows) > limit,
        }
        return Response(data)


class CardDetailView(BankAPIView):
    @extend_schema(
        operation_id="cards_retrieve",
        summary="One of the bank's cards, with its history",
        parameters=[CARD_ID],
        responses={200: serializers.CardSerializer, **_errors(401, 404, 429)},
    )
    def get(self, request, card_id: str):
        """The card in full (the holder's ID number unmasked) and every change of its state."""
        card = selectors.card_api_get(bank=self.bank, public_id=card_id)
        api_card_detail_read(bank=self.bank, card=card)  # the full ID read is logged (privacy/)
        return Response(serializers.card_representation(card, self.bank))


class CardReadyView(BankAPIView):
    @extend_schema(
        operation_id="cards_ready",
        summary="The card is produced",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=serializers.ReadyInputSerializer,
        responses={200: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )
    def post(self, request, card_id: str):
        """The bank produced the card (`verified` to `ready_for_collection`), with its number."""

        def act() -> Response:
            card = selectors.card_api_find(bank=self.bank, public_id=card_id)
            data = self.valid(serializers.ReadyInputSerializer, request.data)
            card = card_mark_ready(card=card, actor=self.actor(), card_number=data["card_number"])
            return self.card_response(card)

        return self.idempotent(act)


class CardHandOverView(BankAPIView):
    @extend_schema(
        operation_id="cards_hand_over",
        summary="The card is collected at the outlet",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=serializers.HandOverInputSerializer,
        responses={200: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )
    def post(self, request, card_id: str):
        """The holder collected the card with the original ID and the application receipt, or an
        entrusted agent with the holder's ID and their own, recorded (`ready_for_collection` to
        `issued`)."""

        def act() -> Response:
            card = selectors.card_api_find(bank=self.bank, public_id=card_id)
            data = self.valid(serializers.HandOverInputSerializer, request.data)
            card = card_hand_over(
                card=card,
                actor=self.actor(),
                id_number=data["id_number"],
                receipt_number=data["receipt_number"],
                agent=(
                    Agent(data["agent_name"], data["agent_id_type"], data["agent_id_number"])
                    if data["agent_name"]
                    else None
                ),
            )
            return self.card_response(card)

        return self.idempotent(act)


class CardWithdrawView(BankAPIView):
    @extend_schema(
        operation_id="cards_withdraw",
        summary="The application is withdrawn at the bank",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=serializers.WithdrawInputSerializer,
        responses={200: serializers.CardSerializer, **_errors(*POST_ERRORS)},
    )
    def post(self, request, card_id: str):
        """The applicant withdrew before the card was issued."""

        def act() -> Response:
            card = selectors.card_api_find(bank=self.bank, public_id=card_id)
            data = self.valid(serializers.WithdrawInputSerializer, request.data)
            card = card_withdraw(
                card=card, actor=self.actor(data["channel"]), reason=data["reason"]
            )
            return self.card_response(card)

        return self.idempotent(act)


# --- Batches ----------------------------------------------------------------------------------


def _batch_items(data, item_serializer, context: dict) -> list[BatchItem]:
    """The body's items, each validated by the item serializer (its fields, `validate_<field>`
    and `validate`), one bound serializer for them all: any item that breaks the schema (a field
    missing, of the wrong type, too long) refuses the batch, 422 naming the item by its index and
    the field. The rules beyond the schema are then decided item by item."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        message = _("A list of 1 to %(n)d items.") % {"n": MAX_ITEMS}
        raise exceptions.ValidationError({"items": [message]})
    # Bound once: DRF copies every declared field each time a serializer is made, which would
    # cost more per item than validating it. `run_validation` keeps no state on the serializer.
    serializer = item_serializer(context=context)
    validated: list[BatchItem] = []
    errors: dict[str, dict] = {}
    for index, item in enumerate(items):
        try:
            values = serializer.run_validation(item)
        except exceptions.ValidationError as exc:
            errors[str(index)] = exc.detail
            continue
        validated.append(BatchItem(card_id=values.pop("card"), values=dict(values)))
    if errors:
        raise exceptions.ValidationError({"items": errors})
    return validated


class BatchView(BankAPIView):
    item_serializer: type
    service = None

    def post(self, request):
        def act() -> Response:
            items = _batch_items(request.data, self.item_serializer, {"bank": self.bank})
            outcomes = self.service(bank=self.bank, actor=self.actor(), items=items)
            results, times = [], {}
            for outcome in outcomes:
                if outcome.card is not None:
                    card = serializers.batch_card_representation(outcome.card, times)
                    results.append({"status": 200, "card": card})
                    continue
                error = exception_handler(outcome.error, {"view": self, "request": request})
                results.append({"status": error.status_code, **error.data})
            succeeded = sum(1 for r in results if r["status"] == 200)
            body = {"results": results, "succeeded": succeeded, "failed": len(results) - succeeded}
            return Response(body)

        return self.idempotent(act)


def _batch_schema(operation_id: str, summary: str, request, description: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        parameters=[IDEMPOTENCY_KEY],
        request=request,
        responses={200: serializers.BatchResultSerializer, **_errors(400, 401, 413, 415, 422, 429)},
    )


BATCH_RULES = (
    " Up to 1,000 items. A body that breaks this schema (an item missing a field, of the wrong "
    "type, too long) is refused whole: 422, `details.items` naming the item's index and field. "
    "Otherwise each item is decided by the same rules as the one-card endpoint and answered in "
    "`results`, in the order given: `status` 200 with the card, or the error the one-card "
    "endpoint would have given (404 for a card that is not the bank's, 409, 422 naming the "
    "field). Items that succeed are committed even when others fail. One Idempotency-Key for "
    "the batch; it is consumed only by a 200."
)


class CardsReadyBatchView(BatchView):
    item_serializer = serializers.BatchReadyItemSerializer
    service = staticmethod(cards_mark_ready_batch)

    @_batch_schema(
        "cards_ready_batch",
        "Many cards are produced",
        serializers.BatchReadyInputSerializer,
        "`POST /cards/{id}/ready` for many cards." + BATCH_RULES,
    )
    def post(self, request):
        return super().post(request)


class CardsHandOverBatchView(BatchView):
    item_serializer = serializers.BatchHandOverItemSerializer
    service = staticmethod(cards_hand_over_batch)

    @_batch_schema(
        "cards_hand_over_batch",
        "Many cards are collected",
        serializers.BatchHandOverInputSerializer,
        "`POST /cards/{id}/hand-over` for many cards." + BATCH_RULES,
    )
    def post(self, request):
        return super().post(request)


class CardsWithdrawBatchView(BatchView):
    item_serializer = serializers.BatchWithdrawItemSerializer
    service = staticmethod(cards_withdraw_batch)

    @_batch_schema(
        "cards_withdraw_batch",
        "Many applications are withdrawn",
        serializers.BatchWithdrawInputSerializer,
        "`POST /cards/{id}/withdraw` for many cards." + BATCH_RULES,
    )
    def post(self, request):
        return super().post(request)


# --- Events -----------------------------------------------------------------------------------


class EventListView(BankAPIView):
    @extend_schema(
        operation_id="events_list",
        summary="The bank's events, in order, to replay what it missed",
        parameters=[serializers.EventListParamsSerializer],
        responses={200: serializers.EventPageSerializer, **_errors(400, 401, 422, 429)},
    )
    def get(self, request):
        """Every change of state of the bank's cards (from, to, at, the card's public id), in the
        order they happened; the same events are sent to the bank's webhook, if it has one."""
        params = self.query(serializers.EventListParamsSerializer)
        limit = params["limit"]
        rows = selectors.event_api_list(
            bank=self.bank,
            after=params["after"],
            settled_id=outbox_settled_id(at_least=params["after"]),
            limit=limit + 1,
        )
        page = rows[:limit]
        data = {
            "results": serializers.EventSerializer(page, many=True).data,
            "next_after": page[-1].id if page else params["after"],
            "has_more": len(rows) > limit,
        }
        return Response(data)


def unknown_path(request, path: str = "") -> JsonResponse:
    """Any other path under /api/v1/: the one error shape, not an HTML page."""
    body = {"error": {"code": "not_found", "message": _("No such endpoint."), "details": {}}}
    return JsonResponse(body, status=404)
