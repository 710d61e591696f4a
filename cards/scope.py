"""Who sees which cards and people in the clerk admin, and which transitions a clerk may do now.

A clerk or supervisor sees the work of their own service point (PRODUCT.md, "Privacy"): the
applications taken there, the cards to be collected there, and the loss reports taken there (a
loss-report transition logged at the point). A hotline operator sees no card page at all: only what
a phone pre-report needs, through the counter search below (no receipt number, card number or
bank: with the ID number, the receipt number is what collection and the status page ask for). A
bank's own staff see their bank's cards. A superuser sees everything.

Beyond that, a person who shows their identity document can be served at any counter: the counter
search by the exact, full document number opens that person's cards for the transitions whose
scope is `any_card` in cards.permissions (a written loss report at the nearest service center, a
phone pre-report at the hotline), and shows nothing more of them than the holder's masked name.
Every admin list, page, action and URL filters through these functions.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_fsm import can_proceed

from agencies.choices import StaffRole
from agencies.models import ServicePoint, Staff
from applicants.identity import normalise_id_number
from applicants.models import Applicant
from cards.actors import Actor
from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardTransition
from cards.permissions import RULES, actor_may

S = CardStatus
T = TransitionName

# The transitions a clerk performs from the card page, in the order of the buttons.
COUNTER_TRANSITIONS: tuple[str, ...] = (
    T.VERIFY,
    T.REJECT,
    T.MARK_READY,
    T.ISSUE_ON_THE_SPOT,
    T.HAND_OVER,
    T.REPORT_LOST_BY_PHONE,
    T.REPORT_LOST_IN_WRITING,
    T.WITHDRAW_LOSS_REPORT,
    T.REPLACE,
    T.WITHDRAW,
    T.CANCEL,
)
# Transitions any counter may do to any card (cards.permissions scope "any_card"), once the
# person's exact document number was given at this counter.
DESK_TRANSITIONS: frozenset[str] = frozenset(
    name for name in COUNTER_TRANSITIONS if RULES[name].scope == "any_card"
)
# A card on which one of these was logged at a point is that point's work ("loss reports taken
# there").
LOSS_REPORT_TRANSITIONS: tuple[str, ...] = tuple(sorted(DESK_TRANSITIONS))


def staff_of(user) -> Staff | None:
    """The user's staff row (agencies.Staff), or None for a superuser or an unassigned user."""
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.staff
    except Staff.DoesNotExist:
        return None


def point_of(user) -> ServicePoint | None:
    staff = staff_of(user)
    return staff.service_point if staff else None


def is_supervisor(user) -> bool:
    """Supervisors see their point's overdue lists; superusers see everyone's."""
    if user.is_superuser:
        return True
    staff = staff_of(user)
    return staff is not None and staff.role == StaffRole.SUPERVISOR


def actor_for(user) -> Actor | None:
    """The acting staff member, or None for a user who works at no service point or bank."""
    if staff_of(user) is None:
        return None
    return Actor.for_user(user)


def _point_card_ids(point: ServicePoint) -> QuerySet:
    """Ids of a point's cards, as a union of three index scans: it grows with the point's work,
    not with the 20 million cards of the city."""
    applied = Card.objects.filter(service_point=point).order_by().values("pk")
    collected = Card.objects.filter(collection_point=point).order_by().values("pk")
    reported = (
        CardTransition.objects.filter(service_point=point, name__in=LOSS_REPORT_TRANSITIONS)
        .order_by()
        .values("card_id")
    )
    return applied.union(collected, reported)


def cards_visible_to(user) -> QuerySet[Card]:
    """The cards `user` may see in lists, on card pages and in search (no effective-state
    annotation; see selectors.with_effective_status)."""
    cards = Card.objects.all()
    if user.is_superuser:
        return cards
    staff = staff_of(user)
    if staff is None or not user.is_active or not user.is_staff:
        return cards.none()
    if staff.service_point_id is None:
        return cards.filter(bank_id=staff.bank_id)  # a bank's own staff: their bank's cards
    point = staff.service_point
    if staff.role == StaffRole.HOTLINE_OPERATOR:
        return cards.none()  # the counter search's masked rows are all the hotline sees
    return cards.filter(pk__in=_point_card_ids(point))


def card_visible_to(user, pk) -> Card | None:
    try:
        return cards_visible_to(user).select_related("applicant").get(pk=pk)
    except (Card.DoesNotExist, ValueError, TypeError):
        return None


def applicants_visible_to(user) -> QuerySet[Applicant]:
    """The people `user` may see: those with a card the user sees, and those with no card at all
    (nobody's work yet: any counter may take their first application). A hotline operator sees
    nobody here; the counter search shows them the masked holder of the card they report."""
    applicants = Applicant.objects.all()
    if user.is_superuser:
        return applicants
    staff = staff_of(user)
    if staff is None or staff.role == StaffRole.HOTLINE_OPERATOR:
        return applicants.none()
    has_no_card = ~Exists(Card.objects.filter(applicant=OuterRef("pk")))
    return applicants.filter(
        Q(pk__in=cards_visible_to(user).order_by().values("applicant_id")) | has_no_card
    )


# --- The state in force, as a filter that uses the indexes -------------------------------------


def effective_state_q(state: str, now: datetime.datetime | None = None) -> Q:
    """Cards whose state in force at `now` is `state` (a passed deadline counts before the
    sweep has run), as conditions on the stored columns."""
    now = now or timezone.now()
    phone_lapsed = Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__lte=now)
    written_expired = Q(status=S.WRITTEN_LOST, written_report_expires_at__lte=now)
    if state == S.ISSUED:
        return Q(status=S.ISSUED) | phone_lapsed
    if state == S.CANCELLED:
        return Q(status=S.CANCELLED) | written_expired
    if state == S.PHONE_REPORTED_LOST:
        return Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__gt=now)
    if state == S.WRITTEN_LOST:
        return Q(status=S.WRITTEN_LOST, written_report_expires_at__gt=now)
    return Q(status=state)


# --- What a clerk may do now -------------------------------------------------------------------


def card_in_force(card: Card, now: datetime.datetime | None = None) -> Card:
    """The card as it stands at `now`: a copy in its effective state when a deadline has passed
    and the sweep has not run yet (the service applies the expiry first, so the buttons must
    too). The copy is never saved."""
    effective = card.status_at(now)
    if effective == card.status:
        return card
    values = {f.attname: getattr(card, f.attname) for f in Card._meta.concrete_fields}
    values["status"] = effective
    copy = Card(**values)
    copy._state.adding = False
    return copy


def transitions_allowed_now(card: Card, actor: Actor | None) -> list[str]:
    """The transitions of COUNTER_TRANSITIONS this actor may perform on this card now: the state
    in force allows it (django-fsm, with its conditions) and cards.permissions allows the actor."""
    if actor is None:
        return []
    current = card_in_force(card)
    return [
        name
        for name in COUNTER_TRANSITIONS
        if can_proceed(getattr(current, name)) and actor_may(current, actor, name)
    ]


@dataclass(frozen=True)
class CounterFind:
    """What a counter search found: the cards in the clerk's scope, the person with exactly this
    document number (anywhere), and that person's cards elsewhere that this counter may act on."""

    query: str
    cards: list[Card]
    person: Applicant | None
    desk_cards: list[Card]


def counter_find(user, query: str) -> CounterFind:
    """A counter search: exact document number, receipt number or card number (selectors.card_find
    semantics), within the user's scope; and by the exact document number, the person and the
    cards of theirs elsewhere that this counter may act on now (DESK_TRANSITIONS)."""
    from cards.selectors import card_find, with_effective_status

    query = (query or "").strip()
    if not query:
        return CounterFind(query, [], None, [])
    visible = cards_visible_to(user)
    cards = list(
        card_find(query=query)
        .filter(pk__in=visible.order_by().values("pk"))
        .order_by("-applied_at")[:50]
    )
    number = normalise_id_number(query)
    person = (
        Applicant.objects.filter(id_number=number).order_by("pk").first()
        if len(number) >= 5
        else None
    )
    desk_cards: list[Card] = []
    actor = actor_for(user)
    if person is not None and actor is not None:
        seen = {card.pk for card in cards}
        elsewhere = with_effective_status(
            Card.objects.filter(applicant=person).select_related("applicant")
        ).order_by("-applied_at")
        for card in elsewhere:
            if card.pk in seen:
                continue
            if set(transitions_allowed_now(card, actor)) & DESK_TRANSITIONS:
                desk_cards.append(card)
    if not (user.is_superuser or takes_applications(user)):
        person = None  # the hotline sees only the cards it may report, masked
    return CounterFind(query, cards, person, desk_cards)


def takes_applications(user) -> bool:
    """Whether the user's service point takes applications (agencies.choices.KIND_OPERATIONS)."""
    point = point_of(user)
    staff = staff_of(user)
    return (
        point is not None
        and staff.role in RULES[T.SUBMIT].roles
        and point.may(RULES[T.SUBMIT].operation)
    )
