"""Proof of identity on every act that gives control of a card (cards/services.py, README
"Identity rules of each act"): what is required, what is refused naming the field, what the log
keeps."""

import pytest

from applicants.choices import IdDocumentType
from cards import services
from cards.choices import AgentDocument, CardStatus, CardType, ReplacementReason, TransitionName
from cards.models import Card
from cards.services import Agent
from common.errors import ApplicationError
from tests.cards.conftest import bring_to, eligible_person, submit
from tests.factories import resident_id

S = CardStatus
T = TransitionName
# Another district than the factories' sequence (310104): never a number a factory already gave.
AGENT_ID = resident_id(777, region="310115")


def agent(**overrides) -> Agent:
    values = {"name": "李四", "id_type": IdDocumentType.RESIDENT_ID, "id_number": AGENT_ID}
    return Agent(**{**values, **overrides})


def refused(field: str, call, **kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as exc:
        call(**kwargs)
    assert exc.value.code == "invalid", exc.value.message
    assert field in exc.value.details, exc.value.details
    return exc.value


def last(card: Card):
    return Card.objects.get(pk=card.pk).transitions.order_by("-id").first()


# --- lifting a loss report ---------------------------------------------------------------------


@pytest.fixture
def reported(world, card_in):
    card = card_in(S.ISSUED)
    return services.card_report_lost_in_writing(
        card=card, actor=world.clerk, id_number=card.applicant.id_number
    )


def test_lifting_a_report_needs_the_card_with_the_holders_document(world, reported):
    holder = reported.applicant
    error = refused(
        "card_presented",
        services.card_withdraw_loss_report,
        card=reported,
        actor=world.clerk,
        id_number=holder.id_number,
    )
    assert "The card itself is required" in error.message
    assert Card.objects.get(pk=reported.pk).status == S.WRITTEN_LOST


@pytest.mark.parametrize("presented", ["", "   ", resident_id(5)])
def test_lifting_a_report_with_no_or_another_persons_document_is_refused(
    world, reported, presented
):
    refused(
        "id_number",
        services.card_withdraw_loss_report,
        card=reported,
        actor=world.clerk,
        id_number=presented,
        card_presented=True,
    )
    assert Card.objects.get(pk=reported.pk).status == S.WRITTEN_LOST


def test_the_holder_with_document_and_card_lifts_the_report_and_it_is_recorded(world, reported):
    card = services.card_withdraw_loss_report(
        card=reported,
        actor=world.other_clerk,  # any service center
        id_number=reported.applicant.id_number.lower(),
        card_presented=True,
    )
    assert card.status == S.ISSUED
    assert last(card).data["identity"] == {
        "holder_id_presented": True,
        "card_presented": True,
        "by": "holder",
    }


def test_an_agent_with_both_documents_lifts_the_report_without_the_card(world, reported):
    card = services.card_withdraw_loss_report(
        card=reported, actor=world.clerk, id_number=reported.applicant.id_number, agent=agent()
    )
    assert card.status == S.ISSUED
    row = last(card)
    assert row.data["agent"] is True
    assert row.data["identity"]["by"] == "agent"
    assert row.data["identity"]["agent"] == {
        "name": "李四",
        "id_type": IdDocumentType.RESIDENT_ID,
        "id_number": AGENT_ID,
        "document": AgentDocument.IDENTITY_DOCUMENT,
    }


def test_an_agent_with_an_invalid_document_or_the_holders_own_is_refused(world, reported):
    holder = reported.applicant
    for bad, field, message in (
        (
            agent(id_number="310104199001011234"),
            "agent_id_number",
            "The entrusted agent's document is not valid.",
        ),
        (
            agent(id_number=holder.id_number),
            "agent_id_number",
            "The entrusted agent cannot be the applicant.",
        ),
        (agent(name=" "), "agent_name", "The entrusted agent's name is required."),
        (agent(document="passport-copy"), "agent_document", "Unknown kind of document."),
        (
            agent(document=AgentDocument.SOCIAL_SECURITY_CARD),
            "agent_document",
            "For this act the entrusted agent shows their own identity document.",
        ),
    ):
        error = refused(
            field,
            services.card_withdraw_loss_report,
            card=reported,
            actor=world.clerk,
            id_number=holder.id_number,
            agent=bad,
        )
        assert error.message == message
        assert error.status == 422
    assert Card.objects.get(pk=reported.pk).status == S.WRITTEN_LOST


# --- replacement -------------------------------------------------------------------------------


def test_a_damaged_card_is_replaced_only_when_handed_in(world, card_in):
    card = card_in(S.ISSUED)
    holder = card.applicant
    refused(
        "card_presented",
        services.card_replace,
        card=card,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=holder.id_number,
    )
    refused(
        "id_number",
        services.card_replace,
        card=card,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=resident_id(6),
        card_presented=True,
    )
    assert Card.objects.get(pk=card.pk).status == S.ISSUED
    new = services.card_replace(
        card=card,
        actor=world.clerk,
        reason=ReplacementReason.DAMAGED,
        id_number=holder.id_number,
        card_presented=True,
    )
    assert new.replaces_id == card.pk
    assert last(card).data["identity"]["card_presented"] is True


def test_a_lost_card_is_replaced_with_the_holders_document_or_an_agent(world, reported):
    holder = reported.applicant
    refused(
        "id_number",
        services.card_replace,
        card=reported,
        actor=world.clerk,
        reason=ReplacementReason.LOST,
        id_number="",
    )
    new = services.card_replace(
        card=reported,
        actor=world.clerk,
        reason=ReplacementReason.LOST,
        id_number=holder.id_number,
        agent=agent(),
    )
    assert new.status in (S.APPLIED, S.VERIFIED)
    identity = last(reported).data["identity"]
    assert identity["by"] == "agent" and identity["agent"]["id_number"] == AGENT_ID


# --- hand-over ---------------------------------------------------------------------------------


def test_hand_over_records_what_was_checked(world, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    card = services.card_hand_over(
        card=card,
        actor=world.bank_actor,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
    )
    data = last(card).data
    assert "original_id_presented" not in data
    assert data["identity"] == {
        "holder_id_presented": True,
        "receipt_presented": True,
        "by": "holder",
    }


def test_an_agent_collects_with_the_holders_document_and_their_own(world, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    refused(
        "agent_id_number",
        services.card_hand_over,
        card=card,
        actor=world.bank_actor,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
        agent=agent(id_number="bad"),
    )
    card = services.card_hand_over(
        card=card,
        actor=world.bank_actor,
        id_number=card.applicant.id_number,
        receipt_number=card.receipt_number,
        agent=agent(),
    )
    assert card.status == S.ISSUED
    data = last(card).data
    assert data["agent"] is True and data["identity"]["agent"]["name"] == "李四"


# --- written loss report: an agent's own social security card ------------------------------------


def test_an_agent_may_show_their_own_issued_social_security_card(world, card_in):
    card = card_in(S.ISSUED)
    agent_person = eligible_person(id_number=AGENT_ID)
    agents_card = bring_to(world, submit(world, agent_person), S.ISSUED)
    assert agents_card.card_type == CardType.SOCIAL_SECURITY
    card = services.card_report_lost_in_writing(
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        agent=agent(document=AgentDocument.SOCIAL_SECURITY_CARD),
    )
    assert card.status == S.WRITTEN_LOST
    identity = last(card).data["identity"]
    assert identity["agent"]["document"] == AgentDocument.SOCIAL_SECURITY_CARD


def test_a_social_security_card_that_was_never_issued_is_not_a_document(world, card_in):
    card = card_in(S.ISSUED)
    eligible_person(id_number=AGENT_ID)  # a person on record, but no card issued to them
    error = refused(
        "agent_id_number",
        services.card_report_lost_in_writing,
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        agent=agent(document=AgentDocument.SOCIAL_SECURITY_CARD),
    )
    assert "No issued social security card" in error.message
    assert Card.objects.get(pk=card.pk).status == S.ISSUED


def test_the_holders_own_social_security_card_is_no_agents_document(world, card_in):
    card = card_in(S.ISSUED)
    error = refused(
        "agent_id_number",
        services.card_report_lost_in_writing,
        card=card,
        actor=world.clerk,
        id_number=card.applicant.id_number,
        agent=agent(
            document=AgentDocument.SOCIAL_SECURITY_CARD, id_number=card.applicant.id_number
        ),
    )
    assert error.message == "The entrusted agent cannot be the applicant."
    assert Card.objects.get(pk=card.pk).status == S.ISSUED
