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
from typing import Any

from django.db.models import Exists, F, FilteredRelation, OuterRef, Q, QuerySet
from django.utils import timezone
from django_fsm import can_proceed

from agencies.choices import StaffRole
from agencies.models import ServicePoint, Staff
from applicants.models import Applicant
from cards.actors import Actor
from cards.choices import CardStatus, TransitionName
from cards.models import LOSS_DEADLINE_COLUMNS, Card, PointPerson
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


@dataclass(frozen=True)
class Desk:
    """Who works at this request's desk: the user, their staff row, its service point, role and
    bank, and the actor they act as. Resolved once per request (desk_of) and passed down to every
    scope and permission function, which never look the user up again (STYLE.md, habit 14)."""

    user: Any
    staff: Staff | None
    point: ServicePoint | None
    actor: Actor | None

    @property
    def is_superuser(self) -> bool:
        return bool(self.user is not None and self.user.is_superuser)

    @property
    def active(self) -> bool:
        user = self.user
        return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff)

    @property
    def role(self) -> str | None:
        return self.staff.role if self.staff else None

    @property
    def point_id(self) -> int | None:
        return self.point.pk if self.point else None

    @property
    def bank_id(self) -> int | None:
        """A bank's own staff (no service point): their bank."""
        return self.staff.bank_id if self.staff and self.point is None else None

    @property
    def is_hotline(self) -> bool:
        return self.role == StaffRole.HOTLINE_OPERATOR

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see their point's overdue lists; superusers see everyone's."""
        return self.is_superuser or self.role == StaffRole.SUPERVISOR

    @property
    def takes_applications(self) -> bool:
        """Whether the desk's service point takes applications (agencies.choices)."""
        return (
            self.point is not None
            and self.role in RULES[T.SUBMIT].roles
            and self.point.may(RULES[T.SUBMIT].operation)
        )

    @property
    def counter_key(self) -> str:
        """The key of this desk's scope in the dashboard's counters (cards.counts)."""
        from cards.counts import scope_key

        if self.is_superuser:
            return scope_key()
        if self.is_hotline or (self.point_id is None and self.bank_id is None):
            return NO_SCOPE  # sees no card: no counter either
        return scope_key(point_id=self.point_id, bank_id=self.bank_id)


DESK_ATTRIBUTE = "cards_desk"
NO_SCOPE = "none"  # the counters' key of a desk that sees no card (no row has it)


def desk_for_user(user) -> Desk:
    """Resolve a user's desk: one query for the staff row with its point and bank."""
    staff = None
    if user is not None and user.is_authenticated:
        staff = (
            Staff.objects.select_related("service_point", "service_point__bank", "bank")
            .filter(user_id=user.pk)
            .first()
        )
    if staff is None:
        return Desk(user=user, staff=None, point=None, actor=None)
    # Actor.for_user reads user.staff: give it the row just read.
    Staff._meta.get_field("user").remote_field.set_cached_value(user, staff)
    return Desk(user=user, staff=staff, point=staff.service_point, actor=Actor.for_user(user))


def desk_of(request) -> Desk:
    """The request's desk, resolved on first use and attached to the request."""
    desk = getattr(request, DESK_ATTRIBUTE, None)
    if desk is None or desk.user is not request.user:
        desk = desk_for_user(request.user)
        setattr(request, DESK_ATTRIBUTE, desk)
    return desk


# --- Scope: conditions the database answers from indexes -----------------------------------
# A point's work is listed in cards.models.PointCard (kept by triggers): one row per card that was
# applied for, is to be collected, or had a loss report taken at the point. A point's list reads
# that table's index in order and stops at the page; checking one card is one probe of its unique
# index. Nothing collects the ids of a point's whole history.

HERE = "here"  # the alias of the desk's own PointCard row on a card queryset
HERE_COLUMNS = (
    "applied_at",
    "bank_id",
    "applied_here",
    "collect_here",
    "loss_report_here",
    "loss_state",
    "loss_deadline",
)


def cards_visible_to(desk: Desk) -> QuerySet[Card]:
    """The cards the desk may see in lists, on card pages and in search (no effective-state
    annotation; see selectors.with_effective_status). For a service point's staff the queryset
    carries the point's link row as `here` (here__applied_at orders a point's list)."""
    cards = Card.objects.all()
    if desk.is_superuser:
        return cards
    if desk.staff is None or not desk.active:
        return cards.none()
    if desk.point is None:
        if desk.bank_id is None:  # a central role (administrators, auditor): no card at all
            return cards.none()
        return cards.filter(bank_id=desk.bank_id)  # a bank's own staff: their bank's cards
    here = FilteredRelation("point_links", condition=Q(point_links__service_point=desk.point_id))
    cards = cards.annotate(**{HERE: here}).filter(**{f"{HERE}__isnull": False})
    # The link row's columns under names of their own (here_applied_at, ...): a later filter()
    # on `here__...` would join the link table a second time (a reverse relation), and the list
    # would then walk the point's whole history in order, testing each card on that second join.
    cards = cards.alias(**{f"{HERE}_{name}": F(f"{HERE}__{name}") for name in HERE_COLUMNS})
    if desk.is_hotline:
        return cards.none()  # the counter search's masked rows are all the hotline sees
    return cards


def applied_at_field(desk: Desk) -> str:
    """The application time a desk's card list orders and filters by: for a service point's staff
    the copy on the desk's own link row (its (point, applied_at, card) index serves both), for
    everyone else the card's own column."""
    if desk.point is not None and not desk.is_superuser:
        return f"{HERE}_applied_at"
    return "applied_at"


def card_visible_to(desk: Desk, pk) -> Card | None:
    try:
        return cards_visible_to(desk).select_related("applicant").get(pk=pk)
    except (Card.DoesNotExist, ValueError, TypeError):
        return None


def card_is_visible(desk: Desk, pk: int) -> bool:
    return cards_visible_to(desk).filter(pk=pk).exists()


def applicants_visible_to(desk: Desk) -> QuerySet[Applicant]:
    """The people the desk may see: at a service point, those in cards.models.PointPerson (the
    holders of the point's cards, and people registered or searched there by their exact
    document number); a bank's staff, the holders of their bank's cards; a superuser, everyone.
    A hotline operator sees nobody here (the counter search shows the masked holder)."""
    applicants = Applicant.objects.all()
    if desk.is_superuser:
        return applicants
    if desk.staff is None or not desk.active or desk.is_hotline:
        return applicants.none()
    if desk.point is None:
        if desk.bank_id is None:  # a central role: no person at all
            return applicants.none()
        return applicants.filter(
            Exists(Card.objects.filter(applicant=OuterRef("pk"), bank_id=desk.bank_id))
        )
    here = FilteredRelation("point_links", condition=Q(point_links__service_point=desk.point_id))
    return applicants.annotate(**{HERE: here}).filter(**{f"{HERE}__isnull": False})


def applicant_is_visible(desk: Desk, pk: int) -> bool:
    return applicants_visible_to(desk).filter(pk=pk).exists()


def person_seen_at_desk(desk: Desk, applicant: Applicant, *, reason: str) -> None:
    """Record that the desk's point registered this person or found them by their exact document
    number: from now on the person is in the point's applicant lists (PointPerson)."""
    if desk.point is None:
        return
    PointPerson.objects.bulk_create(
        [PointPerson(service_point=desk.point, applicant=applicant, reason=reason)],
        ignore_conflicts=True,
    )


# --- The state in force, as a filter that uses the indexes -------------------------------------


def effective_state_q(state: str, now: datetime.datetime | None = None) -> Q:
    """Cards whose state in force at `now` is `state` (a passed deadline counts before the
    sweep has run), as conditions on the stored columns."""
    now = now or timezone.now()
    phone_lapsed = Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__lte=now)
    written_expired = Q(status=S.WRITTEN_LOST, written_report_expires_at__lte=now)
    uncollected = Q(status=S.READY_FOR_COLLECTION, uncollected_cancels_at__lte=now)
    if state == S.ISSUED:
        return Q(status=S.ISSUED) | phone_lapsed
    if state == S.CANCELLED:
        return Q(status=S.CANCELLED) | written_expired | uncollected
    if state == S.PHONE_REPORTED_LOST:
        return Q(status=S.PHONE_REPORTED_LOST, phone_report_expires_at__gt=now)
    if state == S.WRITTEN_LOST:
        # A formal report without a deadline (its rule set gives none) stays in force.
        return Q(status=S.WRITTEN_LOST) & (
            Q(written_report_expires_at__gt=now) | Q(written_report_expires_at__isnull=True)
        )
    if state == S.READY_FOR_COLLECTION:
        return Q(status=S.READY_FOR_COLLECTION) & (
            Q(uncollected_cancels_at__gt=now) | Q(uncollected_cancels_at__isnull=True)
        )
    return Q(status=state)


def live_loss_report_q(
    desk: Desk,
    now: datetime.datetime,
    *,
    state: str | None = None,
    until: datetime.datetime | None = None,
    until_inclusive: bool = False,
) -> Q:
    """Cards with a loss report in force at `now` (of `state`, or either kind) whose deadline
    falls before `until` (or at it, `until_inclusive`). For a service point's staff, ranges of
    the point's own link rows by the state and deadline they carry (cards.PointCard), so the
    rows read are the point's loss reports, never the city's; for everyone else the card's own
    deadline columns (their partial indexes)."""
    before = "lte" if until_inclusive else "lt"
    if desk.point is not None and not desk.is_superuser:
        field = f"{HERE}_loss_deadline"
        states = [state] if state else list(LOSS_DEADLINE_COLUMNS)
        q = Q(**{f"{HERE}_loss_state__in": states, f"{field}__gt": now})
        if until is not None:
            q &= Q(**{f"{field}__{before}": until})
        return q
    q = Q()
    for kind, column in LOSS_DEADLINE_COLUMNS.items():
        if state and kind != state:
            continue
        part = Q(status=kind, **{f"{column}__gt": now})
        if until is not None:
            part &= Q(**{f"{column}__{before}": until})
        q |= part
    return q


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
