"""Who may perform which transition, on which cards: one table (PRODUCT.md, "Who uses it").

django-fsm's `permission=` on each transition points here, and every service checks it, because
calling a transition method does not enforce it. `scope` says which cards an actor may touch:
  own_point   applications taken at the actor's point, or to be collected there
  collection  cards to be collected at the actor's point
  any_card    any card (a written loss report is taken at the nearest service center)
Banks act only on their own cards.
"""

from __future__ import annotations

from dataclasses import dataclass

from agencies.choices import Operation, ServicePointKind, StaffRole
from cards.actors import Actor
from cards.choices import ActorKind, CardType, TransitionName

STAFF = frozenset({StaffRole.CLERK, StaffRole.SUPERVISOR})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str] = frozenset()  # staff roles allowed; empty: no staff
    operation: str | None = None  # what the staff member's point must be allowed to do
    scope: str = "own_point"
    bank: bool = False  # a partner bank through the API may do it (own cards only)
    platform: bool = False  # the city's online service platform through the API may do it
    system: bool = False  # only the scheduler


RULES: dict[str, Rule] = {
    TransitionName.SUBMIT: Rule(
        STAFF, Operation.TAKE_APPLICATIONS, "any_card", bank=True, platform=True
    ),
    TransitionName.VERIFY: Rule(STAFF, Operation.VERIFY),
    TransitionName.REJECT: Rule(STAFF, Operation.VERIFY),
    TransitionName.WITHDRAW: Rule(STAFF, Operation.TAKE_APPLICATIONS, bank=True),
    TransitionName.MARK_READY: Rule(STAFF, Operation.MARK_READY, "collection", bank=True),
    TransitionName.ISSUE_ON_THE_SPOT: Rule(STAFF, Operation.ISSUE_ON_THE_SPOT),
    TransitionName.HAND_OVER: Rule(STAFF, Operation.HAND_OVER, "collection", bank=True),
    TransitionName.REPORT_LOST_BY_PHONE: Rule(
        frozenset({StaffRole.HOTLINE_OPERATOR}), Operation.PHONE_PRE_REPORT, "any_card"
    ),
    TransitionName.LAPSE_PHONE_REPORT: Rule(system=True),
    TransitionName.WITHDRAW_LOSS_REPORT: Rule(STAFF, Operation.WRITTEN_LOSS_REPORT, "any_card"),
    TransitionName.REPORT_LOST_IN_WRITING: Rule(STAFF, Operation.WRITTEN_LOSS_REPORT, "any_card"),
    TransitionName.EXPIRE_WRITTEN_REPORT: Rule(system=True),
    TransitionName.CANCEL_UNCOLLECTED: Rule(system=True),
    TransitionName.REPLACE: Rule(STAFF, Operation.WRITTEN_LOSS_REPORT, "any_card"),
    TransitionName.CANCEL: Rule(
        frozenset({StaffRole.SUPERVISOR}), Operation.WRITTEN_LOSS_REPORT, "any_card"
    ),
}

# Which card types each kind of point takes applications for (seed 001): social security cards at
# the street/township application points and community centers, or at the partner bank (they are
# bank cards); medical insurance cards at the county centers (on the spot) and the street medical
# insurance points (within 3 working days).
POINT_KIND_CARD_TYPES: dict[str, frozenset[str]] = {
    ServicePointKind.STREET_STATION: frozenset({CardType.SOCIAL_SECURITY}),
    ServicePointKind.COMMUNITY_CENTER: frozenset({CardType.SOCIAL_SECURITY}),
    ServicePointKind.COUNTY_MEDICAL_CENTER: frozenset({CardType.MEDICAL_INSURANCE}),
    ServicePointKind.STREET_MEDICAL_POINT: frozenset({CardType.MEDICAL_INSURANCE}),
    ServicePointKind.BANK_OUTLET: frozenset({CardType.SOCIAL_SECURITY}),
    ServicePointKind.HOTLINE: frozenset(),
}


def _card_in_scope(card, actor: Actor, scope: str) -> bool:
    point_id = actor.service_point.pk if actor.service_point else None
    if scope == "any_card":
        return True
    if scope == "collection":
        return card.collection_point_id == point_id
    return point_id in (card.service_point_id, card.collection_point_id)


def actor_may(card, actor: Actor, transition: str) -> bool:
    """Whether `actor` may perform `transition` on `card` (ignoring the card's state)."""
    rule = RULES[transition]
    if actor.kind == ActorKind.SYSTEM:
        return rule.system
    if rule.system:
        return False
    if actor.kind == ActorKind.BANK:
        return rule.bank and actor.bank is not None and card.bank_id == actor.bank.pk
    if actor.kind == ActorKind.PLATFORM:
        return rule.platform
    point = actor.service_point
    if actor.role not in rule.roles or point is None or not point.may(rule.operation):
        return False
    if point.kind == ServicePointKind.BANK_OUTLET and card.bank_id not in (None, point.bank_id):
        return False  # a bank's outlet acts only on its own bank's cards
    return _card_in_scope(card, actor, rule.scope)


def fsm_permission(transition: str):
    """The `permission=` callable for django-fsm: `has_transition_perm(card.verify, actor)`."""

    def check(card, actor) -> bool:
        return isinstance(actor, Actor) and actor_may(card, actor, transition)

    check.__name__ = f"may_{transition}"
    return check
