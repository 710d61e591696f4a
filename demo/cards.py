"""Demo cards in every lifecycle state, each reached through the services (so each has its real
transition log), over a simulated history of the past year.

The clock is moved back with time-machine while a card's history is made (demo data only: never in
production, where seed_demo refuses to run). Some loss reports are left just past their deadline so
that the scheduler has work as soon as `make run` starts, and every screen shows a passed deadline
as passed before it does.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass

import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from agencies.models import PartnerBank, ServicePoint
from applicants.models import Applicant
from applicants.policy import applicant_card_eligibility
from applicants.registry import COMPARED_FIELDS, compare_with_registry, get_registry
from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, CardType
from cards.models import Card

S = CardStatus
MAIN, SECOND = "CC-XH-CHJ", "CC-JA-JAS"  # clerk + supervisor; clerk2
STREET_MEDICAL, COUNTY = "MP-XH-TPL", "MC-HP"
BANKS = ("BOSC", "SPDB", "SRCB", "ICBC", "ABC", "CCB", "PSBC")


@dataclass(frozen=True)
class Plan:
    """One card: its type, where it is applied for, its final state, and when it was applied for
    (days ago). `report_days_ago` places a loss report relative to now."""

    card_type: str
    point_code: str
    state: str
    days_ago: float
    bank_code: str = ""
    report_days_ago: float = 0.0


def plan_cards() -> list[Plan]:
    ssc, med = CardType.SOCIAL_SECURITY, CardType.MEDICAL_INSURANCE
    rows: list[tuple[str, str, str, float, float]] = [
        *[(ssc, MAIN, S.APPLIED, d, 0) for d in (0.1, 0.3, 1, 2, 3, 6, 8)],
        *[(ssc, MAIN, S.VERIFIED, d, 0) for d in (4, 9, 12, 15, 20, 27)],
        *[(ssc, MAIN, S.READY_FOR_COLLECTION, d, 0) for d in (40, 70, 200, 230)],
        *[(ssc, MAIN, S.ISSUED, d, 0) for d in (100, 150, 180, 250, 280, 300, 320)],
        # Phone reports: one just made, one near its 24 hours, one just past (lapsed on start).
        *[
            (ssc, MAIN, S.PHONE_REPORTED_LOST, d, r)
            for d, r in ((200, 0.1), (210, 0.9), (220, 1.05))
        ],
        # Written reports: a recent one, one a day from cancellation, one past its 30 days.
        *[(ssc, MAIN, S.WRITTEN_LOST, d, r) for d, r in ((230, 2), (240, 29), (260, 30.5))],
        (ssc, MAIN, S.CANCELLED, 270, 0),
        *[(ssc, MAIN, S.REPLACED, d, 0) for d in (290, 301)],
        *[(ssc, MAIN, S.REJECTED, d, 0) for d in (5, 11)],
        *[(ssc, MAIN, S.WITHDRAWN, d, 0) for d in (7, 25)],
        *[(ssc, SECOND, S.APPLIED, d, 0) for d in (1, 5)],
        (ssc, SECOND, S.VERIFIED, 10, 0),
        (ssc, SECOND, S.ISSUED, 200, 0),
        *[(med, STREET_MEDICAL, S.APPLIED, d, 0) for d in (0.2, 2)],
        # The 9-day-old one is past its 3-working-day promise.
        *[(med, STREET_MEDICAL, S.VERIFIED, d, 0) for d in (1, 9)],
        (med, STREET_MEDICAL, S.READY_FOR_COLLECTION, 12, 0),
        (med, STREET_MEDICAL, S.ISSUED, 60, 0),
        *[(med, COUNTY, S.ISSUED, d, 0) for d in (30, 90)],
    ]
    return [
        Plan(card_type, point, state, days, BANKS[i % len(BANKS)] if card_type == ssc else "", r)
        for i, (card_type, point, state, days, r) in enumerate(rows)
    ]


class Walker:
    """Takes one card from its application to its planned state, moving the clock as it goes."""

    def __init__(self, points: dict[str, ServicePoint], banks: dict[str, PartnerBank]):
        self.points, self.banks = points, banks
        self.users = {u.username: u for u in get_user_model().objects.select_related("staff")}
        self.card_numbers = iter(range(1, 100_000))

    def staff(self, point_code: str, role: str = "clerk") -> Actor:
        named = {
            (MAIN, "clerk"): "clerk",
            (MAIN, "supervisor"): "supervisor",
            (SECOND, "clerk"): "clerk2",
        }
        username = named.get((point_code, role), f"{point_code.lower()}-{role}")
        return Actor.for_user(self.users[username])

    def outlet(self, bank_code: str) -> ServicePoint:
        bank = self.banks[bank_code]
        return min((p for p in self.points.values() if p.bank_id == bank.pk), key=lambda p: p.code)

    def next_card_number(self, card_type: str) -> str:
        prefix = "SB" if card_type == CardType.SOCIAL_SECURITY else "YB"
        return f"{prefix}{310000000 + next(self.card_numbers):09d}"

    def walk(self, applicant: Applicant, plan: Plan, now: datetime.datetime) -> Card:
        moment = now - datetime.timedelta(days=plan.days_ago)
        with time_machine.travel(moment, tick=False):
            card = self.submit(applicant, plan)
        for delay, step in steps_for(plan):
            moment = min(moment + delay, now - datetime.timedelta(minutes=1))
            with time_machine.travel(moment, tick=False):
                card = step(self, card, plan)
        return card

    def submit(self, applicant: Applicant, plan: Plan) -> Card:
        if plan.card_type == CardType.SOCIAL_SECURITY:
            return services.card_submit(
                applicant=applicant,
                card_type=plan.card_type,
                actor=self.staff(plan.point_code),
                bank=self.banks[plan.bank_code],
                collection_point=self.outlet(plan.bank_code),
            )
        return services.card_submit(
            applicant=applicant, card_type=plan.card_type, actor=self.staff(plan.point_code)
        )


Step = Callable[[Walker, Card, Plan], Card]


def _verify(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_verify(card=card, actor=w.staff(plan.point_code))


def _reject(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_reject(
        card=card, actor=w.staff(plan.point_code), reason="照片回执与本人不符，请重新拍照后再申请。"
    )


def _withdraw(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_withdraw(
        card=card, actor=w.staff(plan.point_code), reason="申请人改在银行网点办理。"
    )


def _mark_ready(w: Walker, card: Card, plan: Plan) -> Card:
    actor = (
        Actor.for_bank(w.banks[plan.bank_code])
        if card.card_type == CardType.SOCIAL_SECURITY
        else w.staff(plan.point_code)
    )
    return services.card_mark_ready(
        card=card, actor=actor, card_number=w.next_card_number(card.card_type)
    )


def _issue_on_the_spot(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_issue_on_the_spot(
        card=card, actor=w.staff(plan.point_code), card_number=w.next_card_number(card.card_type)
    )


def _hand_over(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_hand_over(
        card=card,
        actor=w.staff(card.collection_point.code),
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
    )


def _phone(w: Walker, card: Card, plan: Plan) -> Card:
    holder = card.applicant
    return services.card_report_lost_by_phone(
        card=card,
        actor=Actor.for_user(w.users["hotline"]),
        caller_name=holder.name,
        caller_id_number=holder.id_number,
        contact_phone=holder.phone or "13800000000",
        home_address=holder.address or "上海市",
    )


def _written(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_report_lost_in_writing(
        card=card, actor=w.staff(plan.point_code), id_number=card.applicant.id_number
    )


def _cancel(w: Walker, card: Card, plan: Plan) -> Card:
    return services.card_cancel(
        card=card, actor=w.staff(plan.point_code, "supervisor"), reason="持卡人已迁出本市。"
    )


def _replace(w: Walker, card: Card, plan: Plan) -> Card:
    if int(plan.days_ago) % 2:  # a damaged card replaced
        services.card_replace(
            card=card,
            actor=w.staff(plan.point_code),
            reason="damaged",
            id_number=card.applicant.id_number,
            card_presented=True,
        )
    else:  # lost: written report and replacement in one step
        services.card_report_lost_in_writing(
            card=card,
            actor=w.staff(plan.point_code),
            id_number=card.applicant.id_number,
            request_replacement=True,
        )
    card.refresh_from_db()
    return card


def _days(n: float) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def steps_for(plan: Plan) -> list[tuple[datetime.timedelta, Step]]:
    """The steps after the application, each with its delay after the previous one."""
    verify = [(_days(0.05), _verify)]
    if plan.point_code == COUNTY:
        issued = [*verify, (_days(0.01), _issue_on_the_spot)]
    else:
        issued = [*verify, (_days(20), _mark_ready), (_days(7), _hand_over)]
    issued_after = sum((delay for delay, _ in issued), datetime.timedelta())
    report_delay = _days(plan.days_ago - plan.report_days_ago) - issued_after
    return {
        S.APPLIED: [],
        S.VERIFIED: verify,
        S.REJECTED: [(_days(0.05), _reject)],
        S.WITHDRAWN: [(_days(1), _withdraw)],
        S.READY_FOR_COLLECTION: issued[:2],
        S.ISSUED: issued,
        S.CANCELLED: [*issued, (_days(60), _cancel)],
        S.REPLACED: [*issued, (_days(90), _replace)],
        S.PHONE_REPORTED_LOST: [*issued, (report_delay, _phone)],
        S.WRITTEN_LOST: [*issued, (report_delay, _written)],
    }[plan.state]


def _registry_matches(applicant: Applicant) -> bool:
    entry = get_registry().lookup(applicant.id_type, applicant.id_number)
    form = {name: getattr(applicant, name) for name in COMPARED_FIELDS}
    return entry is not None and not compare_with_registry(form, entry)


def seed_cards(
    *,
    applicants: list[Applicant],
    points: dict[str, ServicePoint],
    banks: dict[str, PartnerBank],
    rng: random.Random,
) -> dict[str, int]:
    """Give eligible people (registry record matching, so verification passes) the planned cards.
    People are drawn in a fixed order; anyone who already has a card of the planned type from an
    earlier run is passed over, so a second run creates nothing."""
    now = timezone.now()
    walker = Walker(points, banks)
    has_card = set(Card.objects.values_list("applicant_id", "card_type"))
    people = sorted(applicants, key=lambda a: a.id_number)
    rng.shuffle(people)
    pool: dict[str, list[Applicant]] = {t: [] for t in CardType.values}
    for applicant in people:
        if not _registry_matches(applicant):
            continue
        for card_type in pool:
            if applicant_card_eligibility(applicant, card_type):
                pool[card_type].append(applicant)
    created = 0
    for plan in plan_cards():
        candidates = pool[plan.card_type]
        if not candidates:
            break
        applicant = candidates.pop(0)
        if (applicant.pk, plan.card_type) in has_card:
            continue  # made by an earlier run
        walker.walk(applicant, plan, now)
        created += 1
    return {"cards": created}
