"""The city's online service platform (`Channel.ONLINE_PLATFORM`): an API client of its own kind,
not a bank, with its own keys (`manage.py create_platform_key`, agencies.PlatformApiKey), its own
per-key limit (API_PLATFORM_RATE_LIMIT) and its own scope:

  POST /api/v1/platform/applications   an online application, with the applicant's real-name and
                                       real-person evidence (cards.services.card_submit checks it)
  GET  /api/v1/platform/cards/{id}     the state of a card it submitted (channel online_platform)

Nothing else: a platform key on a bank's endpoint, or a bank's key here, is 403.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cards.actors import Actor
from cards.api import selectors, serializers
from cards.api.authentication import IsOnlinePlatform
from cards.api.views import CARD_ID, IDEMPOTENCY_KEY, POST_ERRORS, BankAPIView, _errors
from cards.applications import ApplicantForm, EmployerForm, application_submit
from cards.choices import Channel
from cards.services import OnlineCheckEvidence
from common.idempotency import idempotent

_CARD = serializers.PlatformCardSerializer()


class PlatformAPIView(BankAPIView):
    permission_classes = [IsOnlinePlatform]

    def valid(self, serializer_class, data) -> dict:
        serializer = serializer_class(data=data, context={})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def idempotent(self, act) -> Response:
        return idempotent(request=self.request, view=self, scope="platform", act=act)


class PlatformApplicationsView(PlatformAPIView):
    @extend_schema(
        operation_id="platform_applications_create",
        summary="Submit an online application (online service platform)",
        request=serializers.PlatformApplicationInputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: serializers.PlatformCardSerializer, **_errors(*POST_ERRORS)},
        tags=["platform"],
    )
    def post(self, request):
        """An application the applicant made on the city's online service platform, identified
        online. Answers the new card (channel `online_platform`), with its receipt number."""

        def act() -> Response:
            data = self.valid(serializers.PlatformApplicationInputSerializer, request.data)
            employer = EmployerForm(**data["employer"]) if data["employer"] else None
            card = application_submit(
                actor=Actor.for_platform(),
                applicant=ApplicantForm(**data["applicant"]),
                card_type=data["card_type"],
                channel=Channel.ONLINE_PLATFORM,
                bank=data["bank"],
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
                photo_receipt_number=data["photo_receipt_number"],
            )
            card = selectors.platform_card_get(public_id=card.public_id)
            return Response(_CARD.to_representation(card), status=status.HTTP_201_CREATED)

        return self.idempotent(act)


class PlatformCardView(PlatformAPIView):
    @extend_schema(
        operation_id="platform_cards_retrieve",
        summary="The state of a card the platform submitted",
        parameters=[CARD_ID],
        responses={200: serializers.PlatformCardSerializer, **_errors(401, 403, 404, 429)},
        tags=["platform"],
    )
    def get(self, request, card_id: str):
        """A card applied for on the platform; any other card is 404, as one that does not
        exist."""
        return Response(_CARD.to_representation(selectors.platform_card_get(public_id=card_id)))
