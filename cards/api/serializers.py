"""What the API reads and writes. Input serializers only validate and resolve references within the
bank's own world (its outlets, its cards); output serializers mask what a list does not need."""

from __future__ import annotations

import datetime

from django.core.validators import RegexValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.selectors import service_point_code
from applicants.choices import EmployerKind, IdDocumentType, Sex
from applicants.identity import (
    identity_contradictions,
    validate_identity_document,
    validate_uscc,
)
from cards.api.selectors import bank_outlet_find
from cards.choices import (
    FINANCIAL_ACTIONS,
    ActorKind,
    CardStatus,
    CardType,
    Channel,
    ElectronicCardStatus,
    FeeStatus,
    FinancialStatus,
    FunctionAction,
    OnlineCheck,
    OnlineCheckResult,
    TransitionName,
)
from cards.events import event_time, open_log_data
from cards.models import Card, CardFee
from common.masking import mask_id_number, mask_name

# Where a partner bank takes applications: its outlets, its app, WeChat, Alipay (PRODUCT.md).
BANK_CHANNELS = [
    (c.value, c.label)
    for c in (Channel.BANK_OUTLET, Channel.BANK_APP, Channel.WECHAT, Channel.ALIPAY)
]
BIGINT_MAX = 2**63 - 1
CARD_NUMBER_RULE = _(
    "6 to 20 letters and digits once normalised: spaces and dashes are dropped, full-width "
    "characters folded to ASCII, letters upper-cased (`sc-1234 5678` is stored as "
    "`SC12345678`). Anything else is refused, 422 naming the rule. The card's `card_number` "
    "in the answer is the number as stored: match on that."
)
# Details of a transition a bank may read: numbers and deadlines, never a person's data.
TRANSITION_DETAILS = (
    "card_number",
    "certificate_number",
    "expires_at",
    "deadline",
    "promised_by",
    "promise_kept",
    "replacement_reason",
    "automatic",
    "agent",
)


class UtcDateTimeField(serializers.DateTimeField):
    """The API's one time format, in cards and events alike: UTC with microseconds and `Z`
    (`2026-03-02T01:30:00.000000Z`), as the events' `at` is written (cards/events.py)."""

    def to_representation(self, value):
        if value is None or isinstance(value, str):
            return value
        return event_time(value)


class StrictCharField(serializers.CharField):
    """A JSON string, nothing else: 0 or true are refused, as the schema's `string` says (DRF
    would take them as "0" and "True")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    pass


class StrictUUIDField(serializers.UUIDField):
    """A UUID as a JSON string (DRF would take an integer, even `false`, as one)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false`, nothing else: "yes", 1 or "true" are refused, as the schema says."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


# A required text: at least one character that is not a space (the schema says so: minLength 1
# and a pattern), so that what the schema accepts the server does not refuse as blank.
NOT_BLANK = RegexValidator(r"\S", message=_("This field may not be blank."))


def Text(**kwargs) -> serializers.CharField:
    kwargs.setdefault("min_length", 1)
    kwargs.setdefault("validators", [NOT_BLANK])
    return StrictCharField(**kwargs)


def _one_time_format(value):
    """A time stored as ISO 8601 text in a log row's data, in the API's one format."""
    if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
        try:
            return event_time(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    return value


def _django_errors(exc) -> dict:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}


# --- Input ------------------------------------------------------------------------------------


class ApplicantInputSerializer(serializers.Serializer):
    name = Text(max_length=64)
    id_type = serializers.ChoiceField(IdDocumentType.choices)
    id_number = Text(max_length=32)
    id_issuing_country = StrictRegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        allow_blank=True,
        default="",
        help_text=_("A passport's issuing country (ISO 3166 alpha-3); the nationality if empty."),
    )
    sex = serializers.ChoiceField(Sex.choices, required=False, allow_blank=True, default="")
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    nationality = StrictRegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        default="CHN",
        help_text=_("ISO 3166 alpha-3 code; CHN unless the document is a foreign national's."),
    )
    shanghai_hukou = StrictBooleanField(
        help_text=_("Whether the person's household registration (hukou) is in Shanghai.")
    )
    hukou_place = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    phone = StrictRegexField(
        r"^\+?[0-9 -]{5,20}$", max_length=32, required=False, allow_blank=True, default=""
    )
    address = StrictCharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        from django.core.exceptions import ValidationError

        try:
            facts = validate_identity_document(attrs["id_type"], attrs["id_number"])
        except ValidationError as exc:
            raise serializers.ValidationError(_django_errors(exc)) from exc
        contradictions = identity_contradictions(
            facts, sex=attrs["sex"], birth_date=attrs["birth_date"]
        )
        if contradictions:
            raise serializers.ValidationError({f: [m] for f, m in contradictions.items()})
        return attrs


class EmployerInputSerializer(serializers.Serializer):
    uscc = Text(max_length=32, help_text=_("Unified social credit code (GB 32100), 18 characters."))
    name = StrictCharField(max_length=128, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(EmployerKind.choices, required=False, default="")
    start_date = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Start of the employment; needed when none is on record."),
    )

    def validate_uscc(self, value: str) -> str:
        from django.core.exceptions import ValidationError

        try:
            return validate_uscc(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


def _agent_all_or_none(attrs: dict) -> dict:
    agent = [attrs["agent_name"], attrs["agent_id_type"], attrs["agent_id_number"]]
    if any(agent) and not all(agent):
        message = _("An entrusted agent needs a name, a document type and a number.")
        raise serializers.ValidationError(
            {
                field: [message]
                for field in ("agent_name", "agent_id_type", "agent_id_number")
                if not attrs[field]
            }
        )
    return attrs


class OnlineCheckSerializer(serializers.Serializer):
    """The evidence of one online identity check (real-name, real-person), from its provider."""

    check = serializers.ChoiceField(OnlineCheck.choices)
    provider = Text(max_length=64, help_text=_("Who made the check."))
    reference = Text(max_length=128, help_text=_("The provider's reference."))
    verified_at = serializers.DateTimeField()
    result = serializers.ChoiceField(OnlineCheckResult.choices)


class ApplicationInputSerializer(serializers.Serializer):
    card_type = serializers.ChoiceField(CardType.choices)
    channel = serializers.ChoiceField(BANK_CHANNELS)
    service_point = Text(
        max_length=16, help_text=_("Code of the bank's outlet that took the application.")
    )
    collection_point = Text(
        max_length=16,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Code of the bank's outlet where the card is collected; default the same."),
    )
    applicant = ApplicantInputSerializer()
    employer = EmployerInputSerializer(required=False, allow_null=True, default=None)
    online_checks = OnlineCheckSerializer(
        many=True,
        required=False,
        default=list,
        help_text=_("Online channels: a passed real-name and a passed real-person check."),
    )
    agent_name = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    agent_id_type = serializers.ChoiceField(
        IdDocumentType.choices, required=False, allow_blank=True, default=""
    )
    agent_id_number = StrictCharField(max_length=32, required=False, allow_blank=True, default="")
    photo_receipt_number = StrictCharField(
        max_length=32, required=False, allow_blank=True, default=""
    )
    replaces = StrictUUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The bank's own cancelled card that this application replaces."),
    )

    def _outlet(self, code: str):
        outlet = bank_outlet_find(bank=self.context["bank"], code=code)
        if outlet is None:
            raise serializers.ValidationError(_("Not an outlet of this bank."))
        return outlet

    def validate_service_point(self, value: str):
        return self._outlet(value)

    def validate_collection_point(self, value: str | None):
        return None if value is None else self._outlet(value)

    def validate_replaces(self, value):
        if value is None:
            return None
        card = Card.objects.filter(bank=self.context["bank"], public_id=value).first()
        if card is None:
            raise serializers.ValidationError(_("No such card."))
        return card

    def validate(self, attrs):
        return _agent_all_or_none(attrs)


class ReadyInputSerializer(serializers.Serializer):
    card_number = Text(max_length=40, help_text=CARD_NUMBER_RULE)


class HandOverInputSerializer(serializers.Serializer):
    id_number = Text(
        max_length=64, help_text=_("The number of the holder's identity document presented.")
    )
    receipt_number = Text(max_length=40, help_text=_("The application receipt number presented."))
    agent_name = StrictCharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("An entrusted agent collecting with the holder's document and their own."),
    )
    agent_id_type = serializers.ChoiceField(
        IdDocumentType.choices, required=False, allow_blank=True, default=""
    )
    agent_id_number = StrictCharField(max_length=32, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        return _agent_all_or_none(attrs)


class WithdrawInputSerializer(serializers.Serializer):
    reason = Text(max_length=500)
    channel = serializers.ChoiceField(BANK_CHANNELS, default=Channel.BANK_OUTLET)


class QueryIntegerField(serializers.IntegerField):
    """An integer in a query string: decimal digits only ("1.0", " 1" or "1e2" are refused, as
    the schema's `integer` says)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not (data.isascii() and data.isdigit()):
            self.fail("invalid")
        return super().to_internal_value(data)


class CardListParamsSerializer(serializers.Serializer):
    cursor = StrictRegexField(
        r"^[A-Za-z0-9_-]{16,200}$",
        required=False,
        max_length=200,
        help_text=_("`next_cursor` of the previous page; none for the first page."),
    )
    limit = QueryIntegerField(
        required=False, min_value=1, max_value=500, default=100, help_text=_("Page size.")
    )

    def validate_cursor(self, value: str):
        from cards.api.sync import decode_cursor

        try:
            return decode_cursor(value)
        except ValueError as exc:
            raise serializers.ValidationError(_("Not a cursor this API gave.")) from exc


class NoParamsSerializer(serializers.Serializer):
    """An endpoint that takes no query parameter (the sandbox's list)."""


class EventListParamsSerializer(serializers.Serializer):
    after = QueryIntegerField(
        required=False,
        min_value=0,
        max_value=BIGINT_MAX,
        default=0,
        help_text=_("The `id` of the last event received (`next_after`); 0 from the start."),
    )
    limit = QueryIntegerField(
        required=False, min_value=1, max_value=500, default=100, help_text=_("Page size.")
    )


# --- Output -----------------------------------------------------------------------------------


class HolderSummarySerializer(serializers.Serializer):
    name = serializers.SerializerMethodField()
    id_type = serializers.ChoiceField(IdDocumentType.choices)
    id_number = serializers.SerializerMethodField(help_text=_("Masked."))

    def get_name(self, applicant) -> str:
        return mask_name(applicant.name)

    def get_id_number(self, applicant) -> str:
        return mask_id_number(applicant.id_number)


class HolderSerializer(serializers.Serializer):
    name = serializers.CharField()
    id_type = serializers.ChoiceField(IdDocumentType.choices)
    id_number = serializers.CharField()
    sex = serializers.ChoiceField(Sex.choices, allow_blank=True)
    birth_date = serializers.DateField(allow_null=True)
    nationality = serializers.CharField()
    phone = serializers.CharField(
        allow_blank=True, help_text=_("Empty unless the bank's data policy allows it.")
    )
    social_security_number = serializers.CharField(
        allow_blank=True,
        help_text=_(
            "The citizen identity number; a Hong Kong/Macao/Taiwan residence permit's or an "
            "18-character foreign permanent resident ID card's number; or the number the service "
            "assigned to a foreign national (18 characters starting with 9). Masked like the ID "
            "number. Empty if none."
        ),
    )


def _own_card_id(card: Card, other: Card | None) -> str | None:
    """A linked card's id, if it is the same bank's (another bank's card is not even named)."""
    if other is None or other.bank_id != card.bank_id:
        return None
    return str(other.public_id)


def _replaced_by(card: Card) -> Card | None:
    # Only a replaced card, or a cancelled one replaced by a new application, has one: others
    # need no query.
    if card.status not in (CardStatus.REPLACED, CardStatus.CANCELLED):
        return None
    try:
        return card.replaced_by
    except Card.DoesNotExist:
        return None


@extend_schema_field(OpenApiTypes.STR)
class ServicePointCodeField(serializers.Field):
    """A service point's code, from its id (agencies.selectors.service_point_code)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, point_id):
        return service_point_code(point_id)


class CardSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", help_text=_("The card's public id."))
    receipt_number = serializers.CharField(source="receipt_number_display")
    card_type = serializers.ChoiceField(CardType.choices)
    status = serializers.SerializerMethodField(help_text=_("The state in force now."))
    card_number = serializers.CharField(
        allow_null=True, help_text=_("As stored (normalised): match on this value.")
    )
    channel = serializers.ChoiceField(Channel.choices)
    holder = HolderSummarySerializer(source="applicant")
    service_point = ServicePointCodeField(source="service_point_id")
    collection_point = ServicePointCodeField(source="collection_point_id")
    applied_at = UtcDateTimeField()
    verified_at = UtcDateTimeField(allow_null=True)
    ready_at = UtcDateTimeField(allow_null=True)
    issued_at = UtcDateTimeField(allow_null=True)
    closed_at = UtcDateTimeField(allow_null=True)
    updated_at = UtcDateTimeField()
    replaces = serializers.SerializerMethodField()
    replaced_by = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(CardStatus.choices))
    def get_status(self, card: Card) -> str:
        # Lists annotate it in SQL (cards.selectors.with_effective_status); one card asks itself.
        status = getattr(card, "effective_status", None)
        return status if isinstance(status, str) else card.status_at()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_replaces(self, card: Card) -> str | None:
        return _own_card_id(card, card.replaces)

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_replaced_by(self, card: Card) -> str | None:
        return _own_card_id(card, _replaced_by(card))


class TransitionSerializer(serializers.Serializer):
    """One row of a card's history; `from` and `to` as in the events."""

    def get_fields(self):
        return {
            "transition": serializers.ChoiceField(TransitionName.choices, source="name"),
            "from": serializers.ChoiceField(
                CardStatus.choices, source="from_status", allow_blank=True
            ),
            "to": serializers.ChoiceField(CardStatus.choices, source="to_status"),
            "at": UtcDateTimeField(),
            "actor": serializers.ChoiceField(ActorKind.choices, source="actor_kind"),
            "service_point": ServicePointCodeField(source="service_point_id", allow_null=True),
            "channel": serializers.ChoiceField(Channel.choices),
            "reason": serializers.SerializerMethodField(),
            "details": serializers.SerializerMethodField(),
        }

    def get_reason(self, row) -> str:
        return gettext(row.reason) if row.reason else ""

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, row) -> dict:
        # Only what a bank may read is opened: a person's values (sealed under their own data
        # key, which would be looked up) are never part of a bank's answer, nor needed for it.
        stored = row.data or {}
        data = open_log_data({key: stored[key] for key in TRANSITION_DETAILS if key in stored})
        details = {key: _one_time_format(value) for key, value in data.items()}
        if stored.get("differences"):  # the names of the fields, never their values
            details["differing_fields"] = [d.get("field") for d in stored["differences"]]
        return details


class FeeSerializer(serializers.Serializer):
    amount_fen = serializers.IntegerField(help_text=_("In fen: 1 yuan = 100 fen."))
    currency = serializers.CharField()
    status = serializers.ChoiceField(FeeStatus.choices)
    paid_at = UtcDateTimeField(allow_null=True)
    payment_reference = serializers.CharField(allow_blank=True)
    waived_at = UtcDateTimeField(allow_null=True)


class OnlineVerificationSerializer(serializers.Serializer):
    check = serializers.ChoiceField(OnlineCheck.choices, source="check_kind")
    provider = serializers.CharField()
    reference = serializers.CharField()
    verified_at = UtcDateTimeField()
    result = serializers.ChoiceField(OnlineCheckResult.choices)


class CardSerializer(CardSummarySerializer):
    """One of the bank's own cards, in full, with its history."""

    holder = HolderSerializer(source="applicant")
    liveness_verified = serializers.BooleanField()
    real_name_verified = serializers.BooleanField()
    online_checks = OnlineVerificationSerializer(many=True, source="online_verifications.all")
    agent_name = serializers.CharField(allow_blank=True)
    agent_id_type = serializers.CharField(allow_blank=True)
    agent_id_number = serializers.SerializerMethodField(help_text=_("Masked."))
    photo_receipt_number = serializers.CharField(allow_blank=True)
    phone_report_expires_at = UtcDateTimeField(allow_null=True)
    written_report_expires_at = UtcDateTimeField(allow_null=True)
    transitions = TransitionSerializer(many=True, source="history")
    # The card's functions (issue #17; cards/api/functions.py).
    financial_status = serializers.ChoiceField(
        FinancialStatus.choices,
        allow_null=True,
        help_text=_("The financial function; null where the card's rule set has none."),
    )
    electronic_card_status = serializers.SerializerMethodField(
        help_text=_("The electronic social security card; null where there is none.")
    )
    fee = serializers.SerializerMethodField(
        help_text=_("A replacement card's fee, in fen (CNY); null when free.")
    )

    def get_agent_id_number(self, card: Card) -> str:
        return mask_id_number(card.agent_id_number)

    @extend_schema_field(serializers.ChoiceField(ElectronicCardStatus.choices, allow_null=True))
    def get_electronic_card_status(self, card: Card) -> str | None:
        from cards.electronic import electronic_status

        return electronic_status(card)

    @extend_schema_field(FeeSerializer(allow_null=True))
    def get_fee(self, card: Card) -> dict | None:
        fee = CardFee.objects.filter(card_id=card.pk).first()
        return FeeSerializer(fee).data if fee is not None else None


# Bound once: rendering one card then builds no fields (DRF copies every declared field each time
# a serializer is made, which cost more than the rest of GET /cards/{id}). Rendering keeps no state
# on the serializer.
_CARD_SERIALIZER = CardSerializer()


def card_representation(card: Card, bank=None) -> dict:
    """One of the bank's own cards, in full (CardSerializer), within the bank's data policy
    (agencies.PartnerBank: the full ID number unless turned off, the phone only if allowed)."""
    data = _CARD_SERIALIZER.to_representation(card)
    holder = data["holder"]
    if bank is None or not bank.api_full_id_number:
        holder["id_number"] = mask_id_number(holder["id_number"])
        holder["social_security_number"] = mask_id_number(holder["social_security_number"])
    if bank is None or not bank.api_phone:
        holder["phone"] = ""
    return data


class CardPageSerializer(serializers.Serializer):
    results = CardSummarySerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text=_("Pass as `cursor` to continue; keep it to sync again later."),
    )
    has_more = serializers.BooleanField()


# The events of the card's functions (issue #17): their actions and values, beside the lifecycle's.
FUNCTION_EVENT_ACTIONS = [
    (a.value, a.label)
    for a in FunctionAction
    if a.value in FINANCIAL_ACTIONS or a.value.startswith("fee_")
]
FUNCTION_EVENT_VALUES = [
    (v.value, v.label) for v in (*FinancialStatus, *FeeStatus) if v.value not in CardStatus.values
]
# An event's `transition`, `from` and `to` (SPECTACULAR_SETTINGS names their enums).
EVENT_TRANSITIONS = TransitionName.choices + FUNCTION_EVENT_ACTIONS
EVENT_STATES = CardStatus.choices + FUNCTION_EVENT_VALUES


class EventSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "id": serializers.IntegerField(help_text=_("Increasing; pass as `after`.")),
            "event": serializers.CharField(source="kind"),
            "card": serializers.UUIDField(source="payload.card"),
            "transition": serializers.ChoiceField(
                EVENT_TRANSITIONS,
                source="payload.transition",
                help_text=_(
                    "A transition of the card; for `card.financial_status_changed` and "
                    "`card.fee_status_changed`, the action on the function."
                ),
            ),
            "from": serializers.ChoiceField(EVENT_STATES, source="payload.from", allow_blank=True),
            "to": serializers.ChoiceField(EVENT_STATES, source="payload.to"),
            "at": UtcDateTimeField(source="payload.at", help_text=_("UTC, ISO 8601.")),
        }


class EventPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next_after = serializers.IntegerField(help_text=_("Pass as `after` to continue."))
    has_more = serializers.BooleanField()


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(child=serializers.JSONField())


class ErrorSerializer(serializers.Serializer):
    """The one error shape: {"error": {"code", "message", "details"}}."""

    error = ErrorBodySerializer()


# --- Batches (cards/batch.py) -----------------------------------------------------------------


class BatchReadyItemSerializer(serializers.Serializer):
    card = StrictUUIDField(help_text=_("The card's public id."))
    card_number = Text(max_length=40, help_text=CARD_NUMBER_RULE)


class BatchHandOverItemSerializer(HandOverInputSerializer):
    """One hand-over of the batch: the card, and what `POST /cards/{id}/hand-over` takes."""

    card = StrictUUIDField(help_text=_("The card's public id."))


class BatchWithdrawItemSerializer(serializers.Serializer):
    card = StrictUUIDField(help_text=_("The card's public id."))
    reason = Text(max_length=500)
    channel = serializers.ChoiceField(BANK_CHANNELS, default=Channel.BANK_OUTLET)


def _batch_input(item_serializer, name: str):
    return type(
        name,
        (serializers.Serializer,),
        {
            "items": serializers.ListField(
                child=item_serializer(),
                min_length=1,
                max_length=1000,
                help_text=_(
                    "1 to 1,000 items, each decided on its own: one refused item does not stop "
                    "the others."
                ),
            ),
            "__module__": __name__,
        },
    )


BatchReadyInputSerializer = _batch_input(BatchReadyItemSerializer, "BatchReadyInputSerializer")
BatchHandOverInputSerializer = _batch_input(
    BatchHandOverItemSerializer, "BatchHandOverInputSerializer"
)
BatchWithdrawInputSerializer = _batch_input(
    BatchWithdrawItemSerializer, "BatchWithdrawInputSerializer"
)


class BatchCardSerializer(serializers.Serializer):
    """A card as a batch answers it: what changed, no holder data."""

    id = serializers.UUIDField(source="public_id")
    receipt_number = serializers.CharField(source="receipt_number_display")
    card_type = serializers.ChoiceField(CardType.choices)
    status = serializers.ChoiceField(CardStatus.choices)
    card_number = serializers.CharField(
        allow_null=True, help_text=_("As stored (normalised): match on this value.")
    )
    ready_at = UtcDateTimeField(allow_null=True)
    issued_at = UtcDateTimeField(allow_null=True)
    closed_at = UtcDateTimeField(allow_null=True)
    updated_at = UtcDateTimeField()


class BatchItemResultSerializer(serializers.Serializer):
    status = serializers.IntegerField(
        help_text=_("The HTTP status this item alone would have had: 200, or the error's.")
    )
    card = BatchCardSerializer(required=False, help_text=_("The card, if the item succeeded."))
    error = ErrorBodySerializer(required=False, help_text=_("The refusal, if it did not."))


class BatchResultSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True, help_text=_("One per item, in their order."))
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()


_DATETIME = UtcDateTimeField()


def batch_card_representation(card: Card, times: dict | None = None) -> dict:
    """BatchCardSerializer's output, without building a serializer per card; `times` memoises
    the rendering of times (a batch's cards share the time of their transition)."""
    times = {} if times is None else times

    def when(value):
        if value is None:
            return None
        if value not in times:
            times[value] = _DATETIME.to_representation(value)
        return times[value]

    return {
        "id": str(card.public_id),
        "receipt_number": card.receipt_number_display,
        "card_type": card.card_type,
        "status": card.status,
        "card_number": card.card_number,
        "ready_at": when(card.ready_at),
        "issued_at": when(card.issued_at),
        "closed_at": when(card.closed_at),
        "updated_at": when(card.updated_at),
    }


# --- The city's online service platform (cards/api/platform.py) ------------------------------


class PlatformApplicationInputSerializer(serializers.Serializer):
    """An application made on the city's online service platform by the applicant in person,
    identified online: the evidence of a passed real-name and a passed real-person check."""

    card_type = serializers.ChoiceField(CardType.choices)
    bank = StrictRegexField(
        r"^[A-Za-z0-9_-]{1,16}$",
        required=False,
        allow_null=True,
        default=None,
        help_text=_("The partner bank the applicant chose (its code); a social security card's."),
    )
    service_point = Text(
        max_length=16,
        help_text=_(
            "Code of the service point that handles the application (for a social security card "
            "an outlet of the chosen bank, where it is also collected unless `collection_point`)."
        ),
    )
    collection_point = Text(
        max_length=16,
        required=False,
        allow_null=True,
        default=None,
        help_text=_("Code of the point where the card is collected; default the same."),
    )
    applicant = ApplicantInputSerializer()
    employer = EmployerInputSerializer(required=False, allow_null=True, default=None)
    online_checks = OnlineCheckSerializer(
        many=True,
        help_text=_(
            "Required: a passed real-name and a passed real-person check, with their evidence "
            "(422 naming each check that falls short)."
        ),
    )
    photo_receipt_number = StrictCharField(
        max_length=32, required=False, allow_blank=True, default=""
    )

    def validate_bank(self, value: str | None):
        from agencies.models import PartnerBank

        if value is None:
            return None
        bank = PartnerBank.objects.filter(code__iexact=value, active=True).first()
        if bank is None:
            raise serializers.ValidationError(_("No partner bank with this code takes cards now."))
        return bank

    def _point(self, code: str):
        from agencies.models import ServicePoint

        point = ServicePoint.objects.filter(code=code.strip(), active=True).first()
        if point is None:
            raise serializers.ValidationError(_("No open service point with this code."))
        return point

    def validate_service_point(self, value: str):
        return self._point(value)

    def validate_collection_point(self, value: str | None):
        return None if value is None else self._point(value)


class PlatformCardSerializer(serializers.Serializer):
    """A card the platform submitted, as its applicant follows it: the state in force and where
    it is collected; the holder's name masked."""

    id = serializers.UUIDField(source="public_id", help_text=_("The card's public id."))
    receipt_number = serializers.CharField(source="receipt_number_display")
    card_type = serializers.ChoiceField(CardType.choices)
    status = serializers.SerializerMethodField(help_text=_("The state in force now."))
    holder_name = serializers.SerializerMethodField(help_text=_("Masked."))
    bank = serializers.SerializerMethodField(help_text=_("The partner bank's code, if any."))
    service_point = ServicePointCodeField(source="service_point_id")
    collection_point = ServicePointCodeField(source="collection_point_id")
    applied_at = UtcDateTimeField()
    ready_at = UtcDateTimeField(allow_null=True)
    issued_at = UtcDateTimeField(allow_null=True)
    updated_at = UtcDateTimeField()

    @extend_schema_field(serializers.ChoiceField(CardStatus.choices))
    def get_status(self, card: Card) -> str:
        return card.status_at()

    def get_holder_name(self, card: Card) -> str:
        return mask_name(card.applicant.name)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_bank(self, card: Card) -> str | None:
        return card.bank.code if card.bank_id else None


# --- A bank's sandbox (cards/api/sandbox.py) ---------------------------------------------------


class SandboxCardInputSerializer(serializers.Serializer):
    card_type = serializers.ChoiceField(CardType.choices, default=CardType.SOCIAL_SECURITY)


class SandboxAdvanceInputSerializer(serializers.Serializer):
    transition = serializers.ChoiceField(
        TransitionName.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "The transition to make, among the card's `next_transitions`; none: the first of them "
            "(the happy path: verified, ready for collection, issued)."
        ),
    )


class SandboxTransitionSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "transition": serializers.ChoiceField(TransitionName.choices),
            "from": serializers.ChoiceField(CardStatus.choices, allow_blank=True),
            "to": serializers.ChoiceField(CardStatus.choices),
            "at": serializers.CharField(help_text=_("UTC, ISO 8601.")),
        }


class SandboxCardSerializer(serializers.Serializer):
    """A test card of the bank's sandbox: never a real card."""

    id = serializers.UUIDField(source="public_id")
    sandbox = serializers.SerializerMethodField(help_text=_("Always true."))
    receipt_number = serializers.CharField()
    card_type = serializers.ChoiceField(CardType.choices)
    status = serializers.ChoiceField(CardStatus.choices)
    card_number = serializers.CharField(allow_blank=True)
    holder_name = serializers.CharField(help_text=_("Fictitious."))
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()
    next_transitions = serializers.SerializerMethodField()
    transitions = SandboxTransitionSerializer(many=True, source="history")

    def get_sandbox(self, card) -> bool:
        return True

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(TransitionName.choices))
    )
    def get_next_transitions(self, card) -> list[str]:
        from cards.sandbox import sandbox_card_next

        return sandbox_card_next(card)


class SandboxCardPageSerializer(serializers.Serializer):
    results = SandboxCardSerializer(many=True, help_text=_("The newest first, up to 100."))
