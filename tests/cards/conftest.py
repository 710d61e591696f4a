"""A small world for the lifecycle: one of each kind of service point, their staff, a partner
bank, and a person eligible for both card types whose registry record matches."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from agencies.choices import ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint
from applicants.choices import EnrolmentRoute, Insurance
from applicants.models import Applicant, RegistryRecord
from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, CardType, ReplacementReason
from cards.models import Card
from tests.cards.processes import celery_processes  # noqa: F401 - a fixture for test_workers
from tests.factories import (
    ApplicantFactory,
    EnrolmentFactory,
    PartnerBankFactory,
    ServicePointFactory,
    StaffFactory,
    UserFactory,
)

S = CardStatus


@dataclass
class World:
    bank: PartnerBank
    other_bank: PartnerBank
    community: ServicePoint
    other_community: ServicePoint
    outlet: ServicePoint
    county_medical: ServicePoint
    street_medical: ServicePoint
    hotline: ServicePoint
    clerk: Actor
    supervisor: Actor
    other_clerk: Actor
    outlet_clerk: Actor
    county_clerk: Actor
    street_medical_clerk: Actor
    hotline_operator: Actor
    bank_actor: Actor
    other_bank_actor: Actor
    system: Actor


def staff_actor(point: ServicePoint, role: str = StaffRole.CLERK, username: str = "") -> Actor:
    user = UserFactory(username=username or f"{point.code.lower()}-{role}")
    StaffFactory(user=user, service_point=point, role=role)
    return Actor.for_user(user)


@pytest.fixture
def world(db) -> World:
    bank = PartnerBankFactory(code="BOSC", name_zh="上海银行", name_en="Bank of Shanghai")
    other_bank = PartnerBankFactory(code="ICBC", name_zh="工商银行", name_en="ICBC")
    community = ServicePointFactory(code="CC01", kind=ServicePointKind.COMMUNITY_CENTER)
    other_community = ServicePointFactory(code="CC02", kind=ServicePointKind.COMMUNITY_CENTER)
    outlet = ServicePointFactory(code="BO01", kind=ServicePointKind.BANK_OUTLET, bank=bank)
    county = ServicePointFactory(code="MC01", kind=ServicePointKind.COUNTY_MEDICAL_CENTER)
    street_medical = ServicePointFactory(code="MP01", kind=ServicePointKind.STREET_MEDICAL_POINT)
    hotline = ServicePointFactory(code="HL01", kind=ServicePointKind.HOTLINE)
    return World(
        bank=bank,
        other_bank=other_bank,
        community=community,
        other_community=other_community,
        outlet=outlet,
        county_medical=county,
        street_medical=street_medical,
        hotline=hotline,
        clerk=staff_actor(community),
        supervisor=staff_actor(community, StaffRole.SUPERVISOR),
        other_clerk=staff_actor(other_community),
        outlet_clerk=staff_actor(outlet),
        county_clerk=staff_actor(county),
        street_medical_clerk=staff_actor(street_medical),
        hotline_operator=staff_actor(hotline, StaffRole.HOTLINE_OPERATOR),
        bank_actor=Actor.for_bank(bank),
        other_bank_actor=Actor.for_bank(other_bank),
        system=Actor.system(),
    )


def eligible_person(**overrides) -> Applicant:
    """A Shanghai resident enrolled individually in pension and medical insurance, whose registry
    record matches the form."""
    applicant = ApplicantFactory(**overrides)
    for insurance in (Insurance.PENSION, Insurance.MEDICAL):
        EnrolmentFactory(applicant=applicant, insurance=insurance, route=EnrolmentRoute.INDIVIDUAL)
    RegistryRecord.objects.create(
        name=applicant.name,
        id_type=applicant.id_type,
        id_number=applicant.id_number,
        nationality=applicant.nationality,
        shanghai_hukou=applicant.shanghai_hukou,
        hukou_place=applicant.hukou_place,
    )
    return applicant


@pytest.fixture
def person(db) -> Applicant:
    return eligible_person()


def submit(
    world: World, applicant: Applicant, card_type: str = CardType.SOCIAL_SECURITY, **extra
) -> Card:
    """An application at the counter: a social security card by the center's clerk (made by the
    bank, collected at its outlet), a medical card at the street medical point; `extra` goes to
    card_submit as it is (an agent, ...)."""
    if card_type == CardType.SOCIAL_SECURITY:
        return services.card_submit(
            applicant=applicant,
            card_type=card_type,
            actor=world.clerk,
            bank=world.bank,
            collection_point=world.outlet,
            **extra,
        )
    return services.card_submit(
        applicant=applicant, card_type=card_type, actor=world.street_medical_clerk, **extra
    )


_card_numbers = iter(range(10_000_000, 99_999_999))


def card_number() -> str:
    return f"SC{next(_card_numbers)}"


def bring_to(world: World, card: Card, state: str) -> Card:
    """Walk a social security card from `applied` to `state` through the services."""
    if state == S.APPLIED:
        return card
    if state == S.REJECTED:
        return services.card_reject(card=card, actor=world.clerk, reason="Form incomplete.")
    if state == S.WITHDRAWN:
        return services.card_withdraw(card=card, actor=world.clerk, reason="Changed their mind.")
    card = services.card_verify(card=card, actor=world.clerk)
    assert card.status == S.VERIFIED
    if state == S.VERIFIED:
        return card
    card = services.card_mark_ready(card=card, actor=world.bank_actor, card_number=card_number())
    if state == S.READY_FOR_COLLECTION:
        return card
    card = services.card_hand_over(
        card=card,
        actor=world.bank_actor,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
    )
    if state == S.ISSUED:
        return card
    if state == S.CANCELLED:
        return services.card_cancel(card=card, actor=world.supervisor, reason="Left Shanghai.")
    if state == S.REPLACED:
        services.card_replace(
            card=card,
            actor=world.clerk,
            reason=ReplacementReason.DAMAGED,
            id_number=card.applicant.id_number,
            card_presented=True,
        )
        card.refresh_from_db()
        return card
    if state == S.PHONE_REPORTED_LOST:
        return report_by_phone(world, card)
    if state == S.WRITTEN_LOST:
        return services.card_report_lost_in_writing(
            card=card, actor=world.clerk, id_number=card.applicant.id_number
        )
    raise AssertionError(state)


def report_by_phone(world: World, card: Card) -> Card:
    holder = card.applicant
    return services.card_report_lost_by_phone(
        card=card,
        actor=world.hotline_operator,
        caller_name=holder.name,
        caller_id_number=holder.id_number,
        contact_phone="13900139000",
        home_address="上海市徐汇区漕溪北路1号",
    )


@pytest.fixture
def card_in(world, person):
    def make(state: str, applicant: Applicant | None = None) -> Card:
        return bring_to(world, submit(world, applicant or person), state)

    return make


T0 = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
