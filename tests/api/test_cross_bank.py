"""A bank sees and acts on only its own cards: another bank's card answers exactly as a card that
does not exist, on every endpoint, in every filter and in the event feed; not a byte of it shows."""

import uuid

import pytest

from cards import services
from cards.actors import Actor
from cards.choices import CardStatus, CardType
from cards.models import Card, OutboxEvent
from tests.api.conftest import application_body, error_of
from tests.cards.conftest import card_number, eligible_person, staff_actor

S = CardStatus
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def theirs(world, other_outlet):
    """A card of the other bank, taken at its outlet, verified, produced: with events."""
    person = eligible_person()
    card = services.card_submit(
        applicant=person,
        card_type=CardType.SOCIAL_SECURITY,
        actor=Actor.for_bank(world.other_bank),
        service_point=other_outlet,
    )
    card = services.card_verify(card=card, actor=staff_actor(other_outlet))
    card = services.card_mark_ready(
        card=card, actor=Actor.for_bank(world.other_bank), card_number=card_number()
    )
    assert card.bank == world.other_bank and card.status == S.READY_FOR_COLLECTION
    return card


@pytest.fixture
def ours(card_in):
    return card_in(S.READY_FOR_COLLECTION)


def secrets_of(card: Card) -> list[bytes]:
    """What must never reach another bank: any id, number or name of the card."""
    holder = card.applicant
    values = [
        str(card.public_id),
        card.public_id.hex,
        card.receipt_number,
        card.receipt_number_display,
        card.card_number,
        holder.id_number,
        holder.id_number[-4:] + '"',  # even masked
        holder.name,
    ]
    return [value.encode() for value in values]


def assert_nothing_of(card: Card, response) -> None:
    for secret in secrets_of(card):
        assert secret not in response.content, (secret, response.content)


def test_reading_their_card_is_exactly_not_found(api, theirs):
    mine = api.get(f"/cards/{theirs.public_id}")
    missing = api.get(f"/cards/{MISSING}")
    assert mine.status_code == missing.status_code == 404
    assert mine.content == missing.content
    assert_nothing_of(theirs, mine)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("ready", {"card_number": "SC77777777"}),
        ("hand-over", {"id_number": "x", "receipt_number": "y"}),
        ("withdraw", {"reason": "Not ours to withdraw."}),
    ],
)
def test_acting_on_their_card_is_exactly_not_found_and_changes_nothing(api, theirs, action, body):
    before = (theirs.status, theirs.transitions.count(), theirs.events.count())
    response = api.post(f"/cards/{theirs.public_id}/{action}", body)
    missing = api.post(f"/cards/{MISSING}/{action}", body)
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert_nothing_of(theirs, response)
    theirs.refresh_from_db()
    assert (theirs.status, theirs.transitions.count(), theirs.events.count()) == before


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"status": "ready_for_collection"},
        {"card_type": "social_security"},
        {"updated_after": "2000-01-01T00:00:00Z"},
        {"limit": 500},
    ],
)
def test_their_cards_are_in_no_list_and_no_filter(api, theirs, ours, params):
    response = api.get("/cards", params)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(ours.public_id)]
    assert_nothing_of(theirs, response)


def test_a_cursor_never_leads_to_their_cards(api, other_api, theirs, ours):
    their_cursor = other_api.get("/cards").json()["next_cursor"]
    response = api.get("/cards", {"cursor": their_cursor})
    assert response.status_code == 200
    assert_nothing_of(theirs, response)


def test_their_events_are_not_in_the_feed(api, other_api, theirs, ours):
    assert OutboxEvent.objects.filter(card=theirs).count() == 3
    feed = api.get("/events", {"after": 0, "limit": 500})
    assert feed.status_code == 200
    assert {e["card"] for e in feed.json()["results"]} == {str(ours.public_id)}
    assert_nothing_of(theirs, feed)
    # Even asked from just before their events.
    first_of_theirs = OutboxEvent.objects.filter(card=theirs).order_by("id").first().id
    assert_nothing_of(theirs, api.get("/events", {"after": first_of_theirs - 1}))
    # They see theirs, and nothing of ours.
    their_feed = other_api.get("/events")
    assert {e["card"] for e in their_feed.json()["results"]} == {str(theirs.public_id)}
    assert_nothing_of(ours, their_feed)


def test_replacing_their_card_is_refused_as_for_no_card(api, world, theirs):
    person = eligible_person()
    refused = api.post(
        "/applications", application_body(world, person, replaces=str(theirs.public_id))
    )
    missing = api.post("/applications", application_body(world, person, replaces=MISSING))
    assert refused.status_code == missing.status_code == 422
    assert error_of(refused) == error_of(missing)
    assert_nothing_of(theirs, refused)


def test_their_outlet_is_as_unknown_as_none(api, world, other_outlet):
    person = eligible_person()
    theirs = api.post("/applications", application_body(world, person, service_point="IC01"))
    none = api.post("/applications", application_body(world, person, service_point="ZZ99"))
    assert theirs.status_code == none.status_code == 422
    assert error_of(theirs) == error_of(none)


def test_a_person_with_a_live_card_at_their_bank_is_refused_without_naming_it(api, world, theirs):
    response = api.post("/applications", application_body(world, theirs.applicant))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "apply_at_counter"  # not even that a live card exists elsewhere
    assert error["details"] == {}
    assert_nothing_of(theirs, response)


def test_an_idempotency_key_is_per_bank(api, other_api, ours):
    key = str(uuid.uuid4())
    body = {"reason": "Applicant moved abroad."}
    done = api.post(f"/cards/{ours.public_id}/withdraw", body, key=key)
    assert done.status_code == 200
    # The other bank, same key, same body, same path: not our response replayed.
    theirs = other_api.post(f"/cards/{ours.public_id}/withdraw", body, key=key)
    assert theirs.status_code == 404
    assert_nothing_of(ours, theirs)
