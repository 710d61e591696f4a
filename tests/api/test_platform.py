"""The city's online service platform: an API client of its own kind, with its own key, scope
and limit. It submits online applications with the applicant's online identity evidence and
reads the cards it submitted; nothing else, and no bank reads through its key."""

import io

import pytest
from django.core.management import call_command

from agencies.services import platform_api_key_create
from cards.choices import ActorKind, Channel
from cards.models import Card
from tests.api.conftest import BankApi, application_body, error_of
from tests.api.test_applications import online_checks
from tests.cards.conftest import eligible_person


@pytest.fixture
def platform(db) -> BankApi:
    return BankApi(platform_api_key_create(name="tests")[1])


def _body(world, who, **overrides) -> dict:
    body = application_body(world, who)
    for name in ("channel", "agent_name"):
        body.pop(name, None)
    body.update(bank=world.bank.code, online_checks=online_checks("real_person", "real_name"))
    body.update(overrides)
    return body


def test_the_platform_submits_an_online_application_and_follows_its_card(platform, world):
    who = eligible_person()
    response = platform.post("/platform/applications", _body(world, who))
    assert response.status_code == 201, response.content
    shown = response.json()
    assert shown["status"] == "applied" and shown["bank"] == world.bank.code
    assert shown["holder_name"] != who.name  # masked
    card = Card.objects.get(public_id=shown["id"])
    assert card.channel == Channel.ONLINE_PLATFORM and card.bank == world.bank
    assert card.liveness_verified and card.real_name_verified
    submitted = card.transitions.get()
    assert (submitted.actor_kind, submitted.bank_id) == (ActorKind.PLATFORM, None)
    assert {c["kind"] for c in submitted.data["online_checks"]} == {"real_person", "real_name"}
    again = platform.get(f"/platform/cards/{card.public_id}")
    assert again.status_code == 200 and again.json()["receipt_number"] == shown["receipt_number"]


def test_without_the_online_evidence_the_application_is_refused_naming_the_check(platform, world):
    body = _body(world, eligible_person(), online_checks=online_checks("real_name"))
    response = platform.post("/platform/applications", body)
    assert response.status_code == 422, response.content
    assert "real_person" in error_of(response)["details"]
    assert not Card.objects.exists()


def test_the_platform_reads_only_cards_it_submitted(platform, card_in):
    counter_card = card_in("verified")
    response = platform.get(f"/platform/cards/{counter_card.public_id}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_platform_key_opens_no_bank_endpoint_and_a_bank_key_not_the_platforms(
    platform, api, world, card_in
):
    card = card_in("verified")
    assert platform.get("/cards").status_code == 403
    assert platform.get(f"/cards/{card.public_id}").status_code == 403
    refused = platform.post(f"/cards/{card.public_id}/ready", {"card_number": "SC12345678"})
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "permission_denied"
    assert api.post("/platform/applications", _body(world, eligible_person())).status_code == 403
    assert api.get(f"/platform/cards/{card.public_id}").status_code == 403
    card.refresh_from_db()
    assert card.status == "verified"


def test_the_platform_has_its_own_limit(platform, world, settings):
    settings.API_PLATFORM_RATE_LIMIT = 2
    statuses = [platform.get(f"/platform/cards/{Card().public_id}").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


def test_create_platform_key_prints_a_working_key(db, world):
    out = io.StringIO()
    call_command("create_platform_key", "--name", "portal", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("op-")
    assert BankApi(key).get(f"/platform/cards/{Card().public_id}").status_code == 404


def test_a_revoked_platform_key_is_refused(db):
    from agencies.services import bank_api_key_revoke

    api_key, key = platform_api_key_create(name="old")
    bank_api_key_revoke(api_key=api_key)
    assert BankApi(key).get(f"/platform/cards/{Card().public_id}").status_code == 401
