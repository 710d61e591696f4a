"""The counter search: recognise what was typed and do the one indexed exact lookup for that kind.

A resident ID number (and the 2023 foreign permanent resident ID and the Hong Kong/Macao/Taiwan
residence permit, same layout: GB 11643, 18 characters with a check character), an application
receipt number (cards/numbers.py: 13 characters with an ISO 7064 check character), or a card number
or another document number (a passport). A malformed number is refused at once, naming the rule it
breaks, before any query and before any registration form is offered.

The result is a typed object (CounterFind) that the counter page, and later the per-person visit
screen, render.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric

from applicants.choices import IdDocumentType
from applicants.identity import normalise_id_number, validate_identity_document
from applicants.models import Applicant
from applicants.selectors import applicant_get_by_document
from cards.counter.scope import (
    DESK_TRANSITIONS,
    Desk,
    cards_visible_to,
    person_seen_at_desk,
    transitions_allowed_now,
)
from cards.models import Card, PointPersonReason
from cards.numbers import BODY_LENGTH, is_valid_receipt_number, normalise_receipt_number
from privacy.access import counter_search_read

SHORTEST = 5
LONGEST = 20
# How many of a person's cards the counter shows (a person has a handful in a lifetime).
PERSON_CARDS_SHOWN = 50


class SearchKind(enum.StrEnum):
    ID_NUMBER = "id_number"  # 18 characters with a GB 11643 check character
    RECEIPT = "receipt"  # an application receipt number with its check character
    CARD_OR_DOCUMENT = "card_or_document"  # a card number, or another document (a passport)


@dataclass(frozen=True)
class SearchKey:
    """What the clerk typed, recognised and normalised."""

    kind: SearchKind
    value: str

    @property
    def is_document(self) -> bool:
        """Whether this may be a person's document number (so a new person may be registered)."""
        return self.kind in (SearchKind.ID_NUMBER, SearchKind.CARD_OR_DOCUMENT)


def _refuse(message, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def parse_search(text: str) -> SearchKey:
    """Recognise a typed number, or raise ValidationError naming the rule it breaks."""
    typed = (text or "").strip()
    number = normalise_id_number(typed)
    if not number:
        raise _refuse(_("Enter an ID number, a receipt number or a card number."), "required")
    if not number.isascii() or not number.isalnum():
        raise _refuse(
            _("A number has only letters and digits (spaces and dashes are ignored)."),
            "invalid_characters",
        )
    if len(number) == 18 and number[:17].isdigit():
        if not (number[17].isdigit() or number[17] == "X"):
            raise _refuse(
                _("An 18-character ID number is 17 digits followed by a digit or X."),
                "invalid_format",
            )
        if number[17] != ric.calc_check_digit(number):
            raise _refuse(
                _(
                    "The check character (the 18th) of this ID number does not match: "
                    "the number has a typing error."
                ),
                "invalid_checksum",
            )
        return SearchKey(SearchKind.ID_NUMBER, number)
    receipt = normalise_receipt_number(typed)
    if len(receipt) == BODY_LENGTH + 1:
        if is_valid_receipt_number(receipt):
            return SearchKey(SearchKind.RECEIPT, receipt)
        if "-" in typed or " " in typed:  # typed in the receipt's groups: K7QM-3X9T-PW2R-H
            raise _refuse(
                _(
                    "The check character (the last) of this receipt number does not match: "
                    "the number has a typing error."
                ),
                "invalid_receipt_checksum",
            )
    if number.isdigit() and len(number) in (15, 17):
        raise _refuse(
            _("An ID number has 18 characters: 17 digits and a check character."),
            "invalid_length",
        )
    if not SHORTEST <= len(number) <= LONGEST:
        raise _refuse(
            _("A card or document number has 5 to 20 letters and digits."), "invalid_length"
        )
    return SearchKey(SearchKind.CARD_OR_DOCUMENT, number)


@dataclass(frozen=True)
class CounterFind:
    """What a counter search found: the cards in the desk's scope, the person with exactly this
    document number (anywhere; None for the hotline, which sees only the cards it may report),
    and that person's cards elsewhere that this counter may act on now (DESK_TRANSITIONS)."""

    key: SearchKey
    cards: list[Card] = field(default_factory=list)
    person: Applicant | None = None
    desk_cards: list[Card] = field(default_factory=list)

    @property
    def query(self) -> str:
        return self.key.value

    @property
    def only_card(self) -> Card | None:
        if len(self.cards) == 1 and self.person is None and not self.desk_cards:
            return self.cards[0]
        return None


def counter_find(desk: Desk, key: SearchKey) -> CounterFind:
    """The one exact lookup of `key`'s kind, in the desk's scope; by a document number also the
    person and their cards elsewhere this counter may act on. A point that finds a person with
    no card yet by their exact number sees them in its applicant list from then on
    (PointPerson)."""
    from cards.selectors import with_effective_status

    visible = with_effective_status(cards_visible_to(desk)).select_related("applicant")
    if key.kind == SearchKind.RECEIPT:
        return CounterFind(key, cards=list(visible.filter(receipt_number=key.value)))
    cards: list[Card] = []
    if key.kind == SearchKind.CARD_OR_DOCUMENT:
        cards = list(visible.filter(card_number_bidx=Card.blind_index("card_number", key.value)))
    person = applicant_get_by_document(id_number=key.value)
    if person is None:
        return CounterFind(key, cards=cards)
    counter_search_read(desk, person)  # an exact-ID search is a logged read (privacy/)
    theirs, desk_cards = person_cards(desk, person, by_document=True)
    if (
        not theirs
        and not desk_cards
        and desk.takes_applications
        and not Card.objects.filter(applicant=person).exists()
    ):
        # A person with no card yet is nobody's work: from now on, this point's (PointPerson).
        person_seen_at_desk(desk, person, reason=PointPersonReason.SEARCHED)
    seen = {card.pk for card in cards}
    cards.extend(card for card in theirs if card.pk not in seen)
    if not (desk.is_superuser or desk.takes_applications):
        person = None  # the hotline sees only the cards it may report, masked
    return CounterFind(key, cards=cards, person=person, desk_cards=desk_cards)


def person_cards(desk: Desk, person: Applicant, *, by_document: bool) -> tuple[list, list]:
    """A person's cards for the visit screen: those in the desk's scope, and (when the person's
    exact document number was given at this desk) those elsewhere this counter may act on now
    (DESK_TRANSITIONS). A handful, by the applicant index; each tagged with whether it is in the
    desk's scope by one probe of the scope's unique index."""
    from cards.selectors import with_effective_status

    theirs = list(
        with_effective_status(Card.objects.filter(applicant=person))
        .select_related("applicant", "collection_point")
        .order_by("-applied_at")[:PERSON_CARDS_SHOWN]
    )
    in_scope = set(
        cards_visible_to(desk).filter(pk__in=[c.pk for c in theirs]).values_list("pk", flat=True)
    )
    cards: list[Card] = []
    desk_cards: list[Card] = []
    for card in theirs:
        if card.pk in in_scope:
            cards.append(card)
        elif (
            by_document
            and desk.actor is not None
            and (set(transitions_allowed_now(card, desk.actor)) & DESK_TRANSITIONS)
        ):
            desk_cards.append(card)
    return cards, desk_cards


# The documents a number of each recognised kind may be (GB 11643 layout, or another document).
REGISTRABLE_TYPES = {
    SearchKind.ID_NUMBER: (
        IdDocumentType.RESIDENT_ID,
        IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
        IdDocumentType.HMT_RESIDENCE_PERMIT,
    ),
    SearchKind.CARD_OR_DOCUMENT: (
        IdDocumentType.PASSPORT,
        IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
    ),
}


def registrable_types(key: SearchKey) -> tuple[list[str], list[str]]:
    """The document types `key` is a valid number of (a new person may be registered with it),
    and, when none, why not: the rule each type's validation names."""
    valid: list[str] = []
    refusals: list[str] = []
    for id_type in REGISTRABLE_TYPES.get(key.kind, ()):
        try:
            validate_identity_document(id_type, key.value)
        except ValidationError as exc:
            refusals.append(f"{IdDocumentType(id_type).label}: {' '.join(exc.messages)}")
        else:
            valid.append(id_type)
    return valid, ([] if valid else refusals)


__all__ = [
    "CounterFind",
    "SearchKey",
    "SearchKind",
    "counter_find",
    "normalise_id_number",
    "parse_search",
    "person_cards",
    "registrable_types",
]
