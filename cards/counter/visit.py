"""The visit screen: the counter's answer to an exact search, one screen per person at the desk.

The person (masked), their cards with the state in force, and the actions due now in the order a
visit most likely needs them at this point and for this role: hand over the card waiting here,
take the written report for a card reported by phone, issue or verify what waits here, replace,
apply (only where applicants.policy says yes; otherwise every reason and where to go instead),
then the rarer acts. Built from what the search already read (cards.counter.search.CounterFind):
a few queries whatever the person's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from agencies.choices import ServicePointKind
from applicants.models import Applicant
from applicants.policy import applicant_card_eligibility
from cards.choices import LIVE_STATES, CardStatus, CardType, TransitionName
from cards.counter import scope
from cards.counter.scope import Desk
from cards.models import Card
from cards.permissions import POINT_KIND_CARD_TYPES

S = CardStatus
T = TransitionName
VISIT_NEXT = "visit"  # ?next=visit: a transition started from the visit screen returns to it


@dataclass(frozen=True)
class Action:
    """One thing the clerk may do now, with the page that does it."""

    key: str
    label: str
    url: str
    rank: int
    card: Card | None = None
    note: str = ""
    dangerous: bool = False


@dataclass(frozen=True)
class CardRow:
    card: Card
    state: str
    state_label: str
    state_words: str
    url: str | None  # the card page, for the desk's own cards
    here: bool  # in the desk's scope
    prints: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    """A card type the person may not apply for here: every reason, and where to go instead."""

    card_type: str
    reasons: list[str]
    instead: list[str]
    links: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Visit:
    person: Applicant | None
    holder_name: str
    id_type: str
    id_number: str
    id_presented: bool
    cards: list[CardRow]
    actions: list[Action]
    refusals: list[Refusal]
    live_types: list[str]

    @property
    def first(self) -> Action | None:
        return self.actions[0] if self.actions else None

    @property
    def others(self) -> list[Action]:
        return self.actions[1:]


# How likely each act is at the desk, lower first (a card reported by phone comes to be reported
# in writing; a card waiting here comes to be collected). Within a rank, the newest card first.
def _rank(name: str, card: Card, state: str, desk: Desk) -> int:
    if name == T.HAND_OVER:
        return 10 if card.collection_point_id == desk.point_id else 45
    if name == T.REPORT_LOST_BY_PHONE:
        return 12 if desk.is_hotline else 70
    if name == T.REPORT_LOST_IN_WRITING:
        return 15 if state == S.PHONE_REPORTED_LOST else 60
    return {
        T.ISSUE_ON_THE_SPOT: 20,
        T.VERIFY: 25,
        T.MARK_READY: 30,
        T.REPLACE: 35,
        T.WITHDRAW_LOSS_REPORT: 65,
        T.REJECT: 80,
        T.WITHDRAW: 85,
        T.CANCEL: 90,
    }.get(name, 75)


def transition_url(card: Card, name: str) -> str:
    return reverse("admin:cards_card_transition", args=[card.pk, name]) + f"?next={VISIT_NEXT}"


def card_prints(card: Card, state: str) -> list[tuple[str, str]]:
    """The papers of a card of the desk: its receipt while it is on its way, its certificate (and
    a replacement's receipt beside it) once reported lost in writing."""
    prints = []
    if state in (S.APPLIED, S.VERIFIED, S.READY_FOR_COLLECTION):
        prints.append(
            (
                _("Print the application receipt"),
                reverse("admin:cards_card_receipt", args=[card.pk]),
            )
        )
    if card.loss_certificate_number:
        prints.append(
            (
                _("Print the loss-report certificate"),
                reverse("admin:cards_card_certificate", args=[card.pk]),
            )
        )
    return prints


# Where to go instead, by the policy's reason code (applicants.policy.CARD_RULES).
INSTEAD: dict[str, Promise] = {
    "social_security_card_needs_hukou": gettext_lazy(
        "Apply for a medical insurance card instead, at a medical insurance point: a county/"
        "district medical insurance center (issued on the spot) or a street/town medical "
        "insurance service point (ready within 3 working days)."
    ),
    "non_hukou_needs_employer": gettext_lazy(
        "Record the person's employment: the employer registers them for social insurance "
        "within 30 days, and they apply once insured through the employer."
    ),
    "foreign_national_needs_employer": gettext_lazy(
        "Record the person's employment in Shanghai: a foreign national is insured through the "
        "employer, and applies once insured."
    ),
    "not_insured": gettext_lazy("Enrol the person in pension and medical insurance first."),
    "no_medical_insurance": gettext_lazy("Enrol the person in basic medical insurance first."),
}


def _refusal_links(codes: set[str], person: Applicant) -> list[tuple[str, str]]:
    links = []
    if codes & {"non_hukou_needs_employer", "foreign_national_needs_employer"}:
        links.append((_("Record an employment"), reverse("admin:cards_card_employment")))
    if codes & {"not_insured", "no_medical_insurance"}:
        links.append(
            (
                _("Enrol in an insurance"),
                reverse("admin:applicants_applicant_enrol", args=[person.pk]),
            )
        )
    return links


def apply_url(card_type: str) -> str:
    return reverse("admin:cards_card_apply") + f"?card_type={card_type}"


def visit_build(
    desk: Desk,
    *,
    person: Applicant | None,
    cards: list[Card],
    desk_cards: list[Card],
    id_presented: bool,
    holder: Applicant | None = None,
) -> Visit:
    """The visit screen's content for the person found (or, for the hotline, the masked holder
    of the cards it may report)."""
    from cards.counter.forms import TRANSITION_FORMS
    from cards.counter.views import state_in_words  # the plain words live with the views

    actor = desk.actor
    rows: list[CardRow] = []
    actions: list[Action] = []
    for card, here in [(c, True) for c in cards] + [(c, False) for c in desk_cards]:
        state = card.status_at()
        rows.append(
            CardRow(
                card=card,
                state=state,
                state_label=CardStatus(state).label,
                state_words=state_in_words(card) if here else "",
                url=reverse("admin:cards_card_change", args=[card.pk]) if here else None,
                here=here,
                prints=card_prints(card, state) if here else [],
            )
        )
        allowed = scope.transitions_allowed_now(card, actor)
        if not here:
            allowed = [name for name in allowed if name in scope.DESK_TRANSITIONS]
        for name in allowed:
            form = TRANSITION_FORMS[name]
            actions.append(
                Action(
                    key=name,
                    label=str(form.title),
                    url=transition_url(card, name),
                    rank=_rank(name, card, state, desk),
                    card=card,
                    dangerous=form.dangerous,
                )
            )
    refusals: list[Refusal] = []
    live_types = sorted({c.card_type for c in cards + desk_cards if c.status_at() in LIVE_STATES})
    someone = person or holder
    if person is not None and desk.takes_applications:
        point = desk.point
        for card_type in CardType:
            if card_type not in POINT_KIND_CARD_TYPES.get(point.kind, frozenset()):
                continue
            if card_type in live_types:
                continue  # the live card is in the list, with what may be done to it
            answer = applicant_card_eligibility(person, card_type, point=point)
            if answer:
                on_the_spot = point.kind == ServicePointKind.COUNTY_MEDICAL_CENTER
                actions.append(
                    Action(
                        key="apply_issue" if on_the_spot else "apply",
                        label=_("Apply, verify and issue a %(type)s on the spot")
                        % {"type": CardType(card_type).label}
                        if on_the_spot
                        else _("Take an application for a %(type)s")
                        % {"type": CardType(card_type).label},
                        url=reverse("admin:cards_card_issue_on_the_spot")
                        if on_the_spot
                        else apply_url(card_type),
                        rank=50,
                    )
                )
                continue
            codes = {r.code for r in answer.reasons}
            refusals.append(
                Refusal(
                    card_type=str(CardType(card_type).label),
                    reasons=[r.message for r in answer.reasons],
                    instead=[str(INSTEAD[c]) for c in sorted(codes) if c in INSTEAD],
                    links=_refusal_links(codes, person),
                )
            )
    actions.sort(key=lambda a: (a.rank, -(a.card.pk if a.card else 0)))
    return Visit(
        person=person,
        holder_name=someone.name_masked if someone else "",
        id_type=someone.get_id_type_display() if someone else "",
        id_number=someone.id_number_masked if someone else "",
        id_presented=id_presented,
        cards=rows,
        actions=actions,
        refusals=refusals,
        live_types=[str(CardType(t).label) for t in live_types],
    )


def visit_context(visit: Visit) -> dict[str, Any]:
    return {"visit": visit}
