"""The clerk's forms: one per transition, each with exactly what its service needs, and the
counter's search, new-person and application forms.

A transition form validates its input and `perform()` calls exactly one service in
cards/services.py; a refusal (ApplicationError) is put on the form, on the field it names, for the
clerk to read. Each form also says which documents the clerk checks at the counter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from agencies.choices import ServicePointKind
from agencies.models import ServicePoint
from applicants.choices import (
    INDIVIDUAL_INSURANCES,
    EmployerKind,
    EnrolmentRoute,
    IdDocumentType,
    Insurance,
    Sex,
)
from applicants.identity import validate_uscc
from applicants.models import Applicant, Employer
from applicants.services import (
    applicant_create,
    employer_create,
    employment_create,
    enrolment_create,
)
from cards import services
from cards.actors import Actor
from cards.choices import (
    AgentDocument,
    CardStatus,
    CardType,
    IdSource,
    RejectionReason,
    ReplacementReason,
    TransitionName,
)
from cards.counter.search import SearchKey, parse_search
from cards.models import Card
from cards.permissions import POINT_KIND_CARD_TYPES
from common.errors import ApplicationError
from common.text import visible_text

S = CardStatus
T = TransitionName


def add_refusal(form: forms.Form, exc: ApplicationError | ValidationError) -> None:
    """Show a service's refusal on the form: on the fields it names, else above the form."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return
    placed = False
    for field, messages in exc.details.items():
        if field in form.fields and isinstance(messages, list | tuple):
            for message in messages:
                form.add_error(field, str(message))
            placed = True
    if not placed or exc.code != "invalid":
        form.add_error(None, exc.message)


def _id_number_field(label: Promise, help_text: Promise | str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=32,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class AgentFields(forms.Form):
    """An entrusted agent (代办人), optional: all three fields or none."""

    agent_name = forms.CharField(label=_("Agent's name"), max_length=64, required=False)
    agent_id_type = forms.ChoiceField(
        label=_("Agent's document type"),
        choices=[("", "---------"), *IdDocumentType.choices],
        required=False,
    )
    agent_id_number = forms.CharField(
        label=_("Agent's document number"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        given = [cleaned.get(f) for f in ("agent_name", "agent_id_type", "agent_id_number")]
        if any(given) and not all(given):
            raise ValidationError(
                _("For an entrusted agent give the name, the document type and the number.")
            )
        return cleaned

    def agent(self) -> services.Agent | None:
        data = self.cleaned_data
        if not data.get("agent_name"):
            return None
        return services.Agent(
            data["agent_name"],
            data["agent_id_type"],
            data["agent_id_number"],
            data.get("agent_document") or AgentDocument.IDENTITY_DOCUMENT,
        )


class CardPresentedField(forms.BooleanField):
    def __init__(self, label: Promise) -> None:
        super().__init__(label=label, required=False)


# --- One form per transition ---------------------------------------------------------------


class TransitionForm(forms.Form):
    """The base: `perform` calls the transition's one service and returns the card to show."""

    transition: ClassVar[str]
    title: ClassVar[Promise]
    button: ClassVar[Promise]
    documents: ClassVar[tuple[Promise, ...]] = ()
    dangerous: ClassVar[bool] = False

    # The fields this visit's search may already have presented: the holder's document number
    # (searched by it) and the card's receipt number (searched by it).
    id_field: ClassVar[str] = ""
    receipt_field: ClassVar[str] = ""

    def __init__(self, *args, card: Card, presented: dict | None = None, **kwargs) -> None:
        self.card = card
        presented = presented or {}
        self.presented_id: str | None = presented.get("id_number") if self.id_field else None
        self.presented_receipt = bool(presented.get("receipt")) and bool(self.receipt_field)
        super().__init__(*args, **kwargs)
        if self.presented_id:
            del self.fields[self.id_field]  # shown at the search: never typed again
        if self.presented_receipt:
            del self.fields[self.receipt_field]

    def holder_id(self) -> str:
        """The holder's document number: as presented at this visit's search, or as typed."""
        return self.presented_id or self.cleaned_data[self.id_field]

    @property
    def id_source(self) -> str:
        return IdSource.PRESENTED_AT_SEARCH if self.presented_id else ""

    def perform(self, *, actor: Actor) -> Card:
        raise NotImplementedError


class VerifyForm(TransitionForm):
    transition = T.VERIFY
    title = _("Verify against the municipal registry")
    button = _("Check with the registry and record the result")
    documents = (
        _("The signed application registration form"),
        _("The identity document (original) and a copy of its front"),
        _("The photo receipt from an approved photo studio"),
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_verify(card=self.card, actor=actor)


class RejectForm(TransitionForm):
    transition = T.REJECT
    title = _("Reject the application")
    button = _("Reject")
    dangerous = True
    reason_code = forms.ChoiceField(
        label=_("Reason shown to the applicant"),
        choices=RejectionReason.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "The status page shows this reason in plain words, in Chinese and English, with what "
            "to bring next time."
        ),
    )
    reason = forms.CharField(
        label=_("Note for the file (not shown to the applicant)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=500,
        required=False,
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_reject(
            card=self.card,
            actor=actor,
            reason=self.cleaned_data["reason"],
            reason_code=self.cleaned_data["reason_code"],
        )


class WithdrawForm(TransitionForm):
    transition = T.WITHDRAW
    title = _("Withdraw the application")
    button = _("Withdraw the application")
    dangerous = True
    documents = (_("The applicant's (or agent's) identity document"),)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_withdraw(
            card=self.card, actor=actor, reason=self.cleaned_data["reason"]
        )


class CardNumberForm(TransitionForm):
    card_number = forms.CharField(
        label=_("Card number"),
        max_length=20,
        help_text=_("As printed on the card: 6 to 20 letters and digits."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )


class MarkReadyForm(CardNumberForm):
    transition = T.MARK_READY
    title = _("The card is ready for collection")
    button = _("Mark ready for collection")
    documents = (_("The produced card itself: check the holder's name and the card number"),)

    def perform(self, *, actor: Actor) -> Card:
        return services.card_mark_ready(
            card=self.card, actor=actor, card_number=self.cleaned_data["card_number"]
        )


class IssueOnTheSpotForm(CardNumberForm):
    transition = T.ISSUE_ON_THE_SPOT
    title = _("Issue the medical insurance card on the spot")
    button = _("Issue on the spot")
    documents = (
        _("The holder's identity document (original)"),
        _("The card itself: check the holder's name and the card number"),
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_issue_on_the_spot(
            card=self.card, actor=actor, card_number=self.cleaned_data["card_number"]
        )


class HandOverForm(AgentFields, TransitionForm):
    id_field = "id_number"
    receipt_field = "receipt_number"
    transition = T.HAND_OVER
    title = _("Hand the card over")
    button = _("Hand over")
    documents = (
        _("The holder's identity document (original); an agent brings both persons' documents"),
        _("The application receipt"),
    )
    id_number = _id_number_field(_("Holder's document number, as presented"))
    receipt_number = forms.CharField(
        label=_("Receipt number, from the application receipt"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    field_order = ("id_number", "receipt_number", "agent_name", "agent_id_type", "agent_id_number")

    def perform(self, *, actor: Actor) -> Card:
        return services.card_hand_over(
            card=self.card,
            actor=actor,
            id_number=self.holder_id(),
            receipt_number=self.card.receipt_number
            if self.presented_receipt
            else self.cleaned_data["receipt_number"],
            agent=self.agent(),
            id_source=self.id_source,
        )


class PhoneReportForm(TransitionForm):
    id_field = "caller_id_number"
    transition = T.REPORT_LOST_BY_PHONE
    title = _("Phone pre-report of loss")
    button = _("Record the phone report")
    documents = (
        _("Ask the caller for the holder's name, ID number, a contact phone and home address."),
    )
    caller_name = forms.CharField(label=_("Holder's name, as the caller gives it"), max_length=64)
    caller_id_number = _id_number_field(_("Holder's ID number, as the caller gives it"))
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=32)
    home_address = forms.CharField(label=_("Home address"), max_length=255)

    def perform(self, *, actor: Actor) -> Card:
        data = self.cleaned_data
        return services.card_report_lost_by_phone(
            card=self.card,
            actor=actor,
            caller_name=data["caller_name"],
            caller_id_number=self.holder_id(),
            contact_phone=data["contact_phone"],
            home_address=data["home_address"],
            id_source=self.id_source,
        )


class WrittenReportForm(AgentFields, TransitionForm):
    id_field = "id_number"
    transition = T.REPORT_LOST_IN_WRITING
    title = _("Written loss report")
    button = _("Take the written loss report")
    documents = (
        _("The holder's resident identity card (original)"),
        _(
            "An entrusted agent brings both the holder's identity document and their own identity "
            "document or their own social security card"
        ),
    )
    id_number = _id_number_field(_("Holder's document number, as presented"))
    agent_document = forms.ChoiceField(
        label=_("Agent's own document"),
        choices=AgentDocument.choices,
        initial=AgentDocument.IDENTITY_DOCUMENT,
        required=False,
        help_text=_("A social security card: give its social security number (the ID number)."),
    )
    request_replacement = forms.BooleanField(
        label=_("Take a replacement in the same step"),
        required=False,
        help_text=_("The lost card is replaced at once and a new card is applied for."),
    )
    field_order = (
        "id_number",
        "request_replacement",
        "agent_name",
        "agent_document",
        "agent_id_type",
        "agent_id_number",
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_report_lost_in_writing(
            card=self.card,
            actor=actor,
            id_number=self.holder_id(),
            agent=self.agent(),
            request_replacement=self.cleaned_data["request_replacement"],
            id_source=self.id_source,
        )


class WithdrawLossReportForm(AgentFields, TransitionForm):
    id_field = "id_number"
    transition = T.WITHDRAW_LOSS_REPORT
    title = _("The card was found: withdraw the loss report")
    button = _("Withdraw the loss report")
    documents = (
        _("The holder's identity document (original) and the card found"),
        _("Or an entrusted agent with both the holder's and their own identity document"),
    )
    id_number = _id_number_field(_("Holder's document number, as presented"))
    card_presented = CardPresentedField(_("The card itself was shown"))
    reason = forms.CharField(label=_("Note"), max_length=500, required=False)
    field_order = (
        "id_number",
        "card_presented",
        "agent_name",
        "agent_id_type",
        "agent_id_number",
        "reason",
    )

    def perform(self, *, actor: Actor) -> Card:
        data = self.cleaned_data
        return services.card_withdraw_loss_report(
            card=self.card,
            actor=actor,
            id_number=self.holder_id(),
            card_presented=data["card_presented"],
            agent=self.agent(),
            reason=data["reason"],
            id_source=self.id_source,
        )


class ReplaceForm(AgentFields, TransitionForm):
    id_field = "id_number"
    transition = T.REPLACE
    title = _("Replace the card")
    button = _("Replace")
    documents = (
        _("The holder's identity document (original)"),
        _("A damaged card is handed in"),
        _("Or an entrusted agent with both the holder's and their own identity document"),
    )
    reason = forms.ChoiceField(label=_("Why"), choices=ReplacementReason.choices)
    id_number = _id_number_field(_("Holder's document number, as presented"))
    card_presented = CardPresentedField(_("The old card was handed in"))
    note = forms.CharField(label=_("Note"), max_length=500, required=False)
    field_order = (
        "reason",
        "id_number",
        "card_presented",
        "agent_name",
        "agent_id_type",
        "agent_id_number",
        "note",
    )

    def __init__(self, *args, card: Card, **kwargs) -> None:
        super().__init__(*args, card=card, **kwargs)
        # A card reported lost in writing is replaced as lost; an issued one as damaged, for
        # changed personal information or as expired (services.replacement_reasons_for).
        reasons = services.replacement_reasons_for(card) or [ReplacementReason.DAMAGED]
        self.fields["reason"].initial = reasons[0]
        self.fields["reason"].choices = [(r, ReplacementReason(r).label) for r in reasons]
        if reasons == [ReplacementReason.LOST]:
            del self.fields["card_presented"]  # there is no card to hand in

    def perform(self, *, actor: Actor) -> Card:
        data = self.cleaned_data
        return services.card_replace(
            card=self.card,
            actor=actor,
            reason=data["reason"],
            id_number=self.holder_id(),
            card_presented=data.get("card_presented", False),
            agent=self.agent(),
            note=data["note"],
            id_source=self.id_source,
        )


class CancelForm(TransitionForm):
    transition = T.CANCEL
    title = _("Cancel the card")
    button = _("Cancel the card")
    dangerous = True
    documents = (_("Proof of the reason (e.g. death certificate, proof of leaving Shanghai)"),)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )

    def perform(self, *, actor: Actor) -> Card:
        return services.card_cancel(card=self.card, actor=actor, reason=self.cleaned_data["reason"])


TRANSITION_FORMS: dict[str, type[TransitionForm]] = {
    form.transition: form
    for form in (
        VerifyForm,
        RejectForm,
        WithdrawForm,
        MarkReadyForm,
        IssueOnTheSpotForm,
        HandOverForm,
        PhoneReportForm,
        WrittenReportForm,
        WithdrawLossReportForm,
        ReplaceForm,
        CancelForm,
    )
}


# --- The counter: search, a new person, a new application -----------------------------------


class CounterSearchForm(forms.Form):
    q = forms.CharField(
        label=_("ID number, receipt number or card number"),
        max_length=40,
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": _("Exact ID number, receipt number or card number"),
            }
        ),
    )

    def clean_q(self) -> SearchKey:
        """Recognise the number (counter/search.py); a malformed one is refused with its rule."""
        return parse_search(self.cleaned_data["q"])


PHOTO_RECEIPT_RULE = _(
    "A social security card is made with the photo of an approved photo studio: enter the photo "
    "receipt's number (two bareheaded one-inch photos)."
)


class NewPersonForm(forms.Form):
    """A person not yet known: the registration form's identity fields (applicants.services)."""

    name = forms.CharField(label=_("Name"), max_length=64)
    id_type = forms.ChoiceField(
        label=_("Document type"),
        choices=IdDocumentType.choices,
        initial=IdDocumentType.RESIDENT_ID,
    )
    id_number = _id_number_field(_("Document number"))
    id_issuing_country = forms.CharField(
        label=_("Issuing country"),
        max_length=3,
        required=False,
        help_text=_("A passport's issuing country (ISO 3166 alpha-3); the nationality if empty."),
    )
    sex = forms.ChoiceField(
        label=_("Sex"),
        choices=[("", "---------"), *Sex.choices],
        required=False,
        help_text=_("Read from a resident ID number; needed for other documents."),
    )
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Read from a resident ID number; needed for other documents."),
    )
    nationality = forms.CharField(
        label=_("Nationality"),
        max_length=3,
        initial="CHN",
        required=False,
        help_text=_("ISO 3166 alpha-3 code; CHN for a Chinese citizen."),
    )
    shanghai_hukou = forms.BooleanField(label=_("Shanghai household registration"), required=False)
    hukou_place = forms.CharField(
        label=_("Place of household registration"), max_length=128, required=False
    )
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    address = forms.CharField(label=_("Home address"), max_length=255, required=False)

    def create(self, actor=None) -> Applicant:
        data = {**self.cleaned_data, "nationality": self.cleaned_data["nationality"] or "CHN"}
        return applicant_create(**data, actor=actor)


class OutletChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ServicePoint) -> str:
        return f"{obj.bank.name_zh} · {obj.name}"


class ApplicationForm(AgentFields):
    """A new application at this counter (cards.services.card_submit)."""

    card_type = forms.ChoiceField(label=_("Card type"), widget=forms.RadioSelect)
    collection_point = OutletChoiceField(
        label=_("Collect at (partner-bank outlet)"),
        queryset=ServicePoint.objects.none(),
        required=False,
        help_text=_(
            "A social security card is also a bank card: it is produced by the outlet's bank "
            "and collected there."
        ),
    )
    photo_receipt_number = forms.CharField(
        label=_("Photo receipt number"),
        max_length=32,
        required=False,
        help_text=_("Required for a social security card: the card is made with its photo."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    field_order = ("card_type", "collection_point", "photo_receipt_number")

    def __init__(
        self, *args, point: ServicePoint | None, applicant: Applicant | None, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.point = point
        self.applicant = applicant
        card_types = POINT_KIND_CARD_TYPES.get(point.kind, frozenset()) if point else frozenset()
        self.fields["card_type"].choices = [
            (value, label) for value, label in CardType.choices if value in card_types
        ]
        if len(self.fields["card_type"].choices) == 1:
            self.fields["card_type"].initial = self.fields["card_type"].choices[0][0]
        outlets = ServicePoint.objects.filter(
            kind=ServicePointKind.BANK_OUTLET, active=True, bank__active=True
        ).select_related("bank")
        if point is not None and point.kind == ServicePointKind.BANK_OUTLET:
            outlets = outlets.filter(bank_id=point.bank_id)
            self.fields["collection_point"].initial = point.pk
        if CardType.SOCIAL_SECURITY not in card_types:
            del self.fields["collection_point"]
        else:
            self.fields["collection_point"].queryset = outlets.order_by("bank__code", "code")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if (
            cleaned.get("card_type") == CardType.SOCIAL_SECURITY
            and "collection_point" in self.fields
            and not cleaned.get("collection_point")
        ):
            self.add_error(
                "collection_point",
                _("Choose the partner-bank outlet where the card will be collected."),
            )
        if (
            cleaned.get("card_type") == CardType.SOCIAL_SECURITY
            and not (cleaned.get("photo_receipt_number") or "").strip()
        ):
            self.add_error("photo_receipt_number", PHOTO_RECEIPT_RULE)
        return cleaned

    def submit(self, *, actor: Actor, applicant: Applicant | None = None) -> Card | None:
        data = self.cleaned_data
        outlet = data.get("collection_point")
        card_type = data["card_type"]
        if not card_type:
            return None  # registration only
        social = card_type == CardType.SOCIAL_SECURITY
        return services.card_submit(
            applicant=applicant or self.applicant,
            card_type=card_type,
            actor=actor,
            bank=outlet.bank if (social and outlet) else None,
            collection_point=outlet if social else None,
            agent=self.agent(),
            photo_receipt_number=data.get("photo_receipt_number") or "",
        )


class RegistrationForm(NewPersonForm, ApplicationForm):
    """One visit's registration: the person (for the document number searched, of a type it is
    valid for), their insurances as an individual, and, if a card type is chosen, the application,
    in one form (cards.counter.views.new_person_view runs each step's own service in one
    transaction)."""

    insurances = forms.MultipleChoiceField(
        label=_("Enrol as an individual in"),
        choices=[(i.value, i.label) for i in Insurance if i in INDIVIDUAL_INSURANCES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_(
            "Pension and medical insurance, from today (only with Shanghai household "
            "registration). Through an employer: record the employment instead."
        ),
    )
    field_order = (
        "id_type",
        "id_number",
        "name",
        "phone",
        "shanghai_hukou",
        "hukou_place",
        "address",
        "insurances",
        "card_type",
        "collection_point",
        "photo_receipt_number",
        # Read from a resident ID number; asked for other documents.
        "sex",
        "birth_date",
        "nationality",
        "id_issuing_country",
    )

    def __init__(self, *args, id_types: list[str], point: ServicePoint | None, **kwargs) -> None:
        super().__init__(*args, point=point, applicant=None, **kwargs)
        self.fields["id_type"].choices = [
            (value, label) for value, label in IdDocumentType.choices if value in id_types
        ]
        # The number searched, shown and not typed again (a new search for another number).
        self.fields["id_number"].widget.attrs["readonly"] = True
        self.fields["card_type"].required = False
        self.fields["card_type"].choices = [
            *self.fields["card_type"].choices,
            ("", _("No card now: register only")),
        ]
        self.fields["card_type"].initial = self.fields["card_type"].choices[0][0]
        self.fields["insurances"].initial = list(INDIVIDUAL_INSURANCES)
        for name in ("agent_name", "agent_id_type", "agent_id_number"):
            del self.fields[name]  # an agent applies with a found person (the application page)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("insurances") and not cleaned.get("shanghai_hukou"):
            self.add_error(
                "insurances",
                _(
                    "Individual enrolment needs Shanghai household registration; a person "
                    "without it is insured through an employer."
                ),
            )
        return cleaned

    def create(self, actor=None) -> Applicant:
        data = {
            name: self.cleaned_data[name]
            for name in NewPersonForm.base_fields
            if name in self.cleaned_data
        }
        data["nationality"] = data.get("nationality") or "CHN"
        return applicant_create(**data, actor=actor)

    def enrol(self, person: Applicant, actor=None) -> None:
        today = timezone.localdate()
        for insurance in self.cleaned_data.get("insurances") or ():
            enrolment_create(
                applicant=person,
                insurance=insurance,
                route=EnrolmentRoute.INDIVIDUAL,
                start_date=today,
                actor=actor,
            )

    def agent(self) -> services.Agent | None:
        return None


class IssueOnTheSpotVisitForm(forms.Form):
    """The county center's one confirmation: the card number of the card handed over."""

    card_number = forms.CharField(
        label=_("Card number"),
        max_length=20,
        help_text=_("As printed on the card: 6 to 20 letters and digits."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )

    def clean_card_number(self) -> str:
        try:
            return services.card_number_checked(self.cleaned_data["card_number"])
        except ApplicationError as exc:
            raise ValidationError(exc.message, code=exc.code) from None


# --- What the clerk checks, per point kind and act ---------------------------------------------

_ID = _("The identity document (original) and a copy of its front")
_PHOTO = _("The photo receipt from an approved photo studio (two bareheaded one-inch photos)")
_FORM = _("The signed application registration form")
_BANK_FORMS = _("The bank's personal account opening and e-banking forms")
_AGENT = _("An entrusted agent: both persons' valid identity documents")

# The documents of an application, by the kind of point taking it: a social security card needs
# the photo receipt; only at a bank outlet is the card also a bank account, with its forms.
DOCUMENTS: dict[tuple[str, str], tuple[Promise, ...]] = {
    (ServicePointKind.STREET_STATION, T.SUBMIT): (_ID, _PHOTO, _FORM, _AGENT),
    (ServicePointKind.COMMUNITY_CENTER, T.SUBMIT): (_ID, _PHOTO, _FORM, _AGENT),
    (ServicePointKind.BANK_OUTLET, T.SUBMIT): (_ID, _PHOTO, _FORM, _BANK_FORMS, _AGENT),
    (ServicePointKind.COUNTY_MEDICAL_CENTER, T.SUBMIT): (_ID, _FORM, _AGENT),
    (ServicePointKind.STREET_MEDICAL_POINT, T.SUBMIT): (_ID, _FORM, _AGENT),
    (ServicePointKind.COUNTY_MEDICAL_CENTER, T.ISSUE_ON_THE_SPOT): (
        _ID,
        _FORM,
        _("The card itself: check the holder's name and the card number"),
    ),
}


def documents_for(point_kind: str | None, transition: str) -> tuple[Promise, ...]:
    """The checklist of an act at a kind of point; () where the act's own form says it."""
    return DOCUMENTS.get((point_kind or "", transition), ())


class EmploymentVisitForm(forms.Form):
    """The employment that insures a person through an employer (a person without Shanghai
    household registration, a foreign national): the employer by its unified social credit code
    (registered here if new), the start, and the insurances the employer enrols them in."""

    employer_uscc = forms.CharField(
        label=_("Employer's unified social credit code"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    employer_name = forms.CharField(
        label=_("Employer's name"),
        max_length=128,
        required=False,
        help_text=_("Only for an employer not yet on record."),
    )
    start_date = forms.DateField(
        label=_("Start of employment"), widget=forms.DateInput(attrs={"type": "date"})
    )
    insurances = forms.MultipleChoiceField(
        label=_("Insured through the employer in"),
        choices=Insurance.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[i.value for i in Insurance],
    )

    def save(self, person: Applicant) -> None:
        """The employer (found or registered), the employment and its enrolments, each through its
        own service (applicants.services); the caller holds the transaction."""
        data = self.cleaned_data
        try:  # a malformed code is refused with its rule, not taken for an unknown employer
            uscc = validate_uscc(data["employer_uscc"])
        except ValidationError as exc:
            raise ValidationError({"employer_uscc": exc.messages}) from None
        employer = Employer.objects.filter(uscc=uscc).first()
        if employer is None:
            if not visible_text(data.get("employer_name") or ""):
                raise ValidationError(
                    {"employer_name": _("The employer is not on record: give its name.")}
                )
            employer = employer_create(
                name=data["employer_name"], uscc=uscc, kind=EmployerKind.ENTERPRISE
            )
        employment = employment_create(
            applicant=person, employer=employer, start_date=data["start_date"]
        )
        for insurance in data["insurances"]:
            enrolment_create(
                applicant=person,
                insurance=insurance,
                route=EnrolmentRoute.EMPLOYER,
                start_date=data["start_date"],
                employment=employment,
            )
