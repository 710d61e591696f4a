"""A bank's sandbox: a sandbox key (`create_bank_key CODE --sandbox`) acts only on the bank's
test cards, which it moves through the lifecycle's states; it never sees or changes a real card,
and a real key never sees a sandbox card."""

import io

import pytest
from django.core.management import call_command

from agencies.services import bank_api_key_create
from cards.choices import CardStatus
from cards.models import CardCenterNotice, CardTransition, OutboxEvent, SandboxCard
from tests.api.conftest import BankApi, error_of

S = CardStatus


@pytest.fixture
def sandbox(world) -> BankApi:
    return BankApi(bank_api_key_create(bank=world.bank, name="tests", sandbox=True)[1])


@pytest.fixture
def other_sandbox(world) -> BankApi:
    return BankApi(bank_api_key_create(bank=world.other_bank, name="tests", sandbox=True)[1])


def test_a_test_card_moves_through_its_states_and_nothing_real_is_written(sandbox):
    logged, events, notices = (
        m.objects.count() for m in (CardTransition, OutboxEvent, CardCenterNotice)
    )
    created = sandbox.post("/sandbox/cards", {})
    assert created.status_code == 201, created.content
    card = created.json()
    assert (card["sandbox"], card["status"]) == (True, S.APPLIED)
    assert card["next_transitions"][0] == "verify"
    path = f"/sandbox/cards/{card['id']}/advance"
    states = [sandbox.post(path, {}).json()["status"] for _ in range(3)]
    assert states == [S.VERIFIED, S.READY_FOR_COLLECTION, S.ISSUED]
    lost = sandbox.post(path, {"transition": "report_lost_by_phone"}).json()
    assert lost["status"] == S.PHONE_REPORTED_LOST
    assert [t["to"] for t in lost["transitions"]] == [
        S.APPLIED,
        S.VERIFIED,
        S.READY_FOR_COLLECTION,
        S.ISSUED,
        S.PHONE_REPORTED_LOST,
    ]
    assert lost["card_number"].startswith("SBX")
    refused = sandbox.post(path, {"transition": "hand_over"})
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "transition_not_allowed"
    assert "withdraw_loss_report" in error_of(refused)["details"]["allowed"]
    shown = sandbox.get(f"/sandbox/cards/{card['id']}").json()
    assert shown["status"] == S.PHONE_REPORTED_LOST
    assert [c["id"] for c in sandbox.get("/sandbox/cards").json()["results"]] == [card["id"]]
    assert (CardTransition.objects.count(), OutboxEvent.objects.count()) == (logged, events)
    assert CardCenterNotice.objects.count() == notices


def test_a_sandbox_key_never_sees_or_changes_a_real_card(sandbox, card_in):
    real = card_in(S.VERIFIED)
    assert sandbox.get("/cards").status_code == 403
    assert sandbox.get(f"/cards/{real.public_id}").status_code == 403
    assert sandbox.get("/events").status_code == 403
    ready = sandbox.post(f"/cards/{real.public_id}/ready", {"card_number": "SC12345678"})
    assert ready.status_code == 403 and error_of(ready)["code"] == "permission_denied"
    batch = sandbox.post(
        "/cards/ready", {"items": [{"card": str(real.public_id), "card_number": "SC12345678"}]}
    )
    assert batch.status_code == 403
    assert sandbox.get(f"/sandbox/cards/{real.public_id}").status_code == 404
    assert sandbox.post(f"/sandbox/cards/{real.public_id}/advance", {}).status_code == 404
    real.refresh_from_db()
    assert (real.status, real.card_number) == (S.VERIFIED, None)
    assert real.transitions.count() == 2


def test_a_real_key_never_sees_a_sandbox_card(sandbox, other_sandbox, api):
    card = sandbox.post("/sandbox/cards", {}).json()
    assert api.get("/sandbox/cards").status_code == 403
    assert api.get(f"/sandbox/cards/{card['id']}").status_code == 403
    assert api.post(f"/sandbox/cards/{card['id']}/advance", {}).status_code == 403
    assert api.get(f"/cards/{card['id']}").status_code == 404
    assert card["id"] not in str(api.get("/cards").json())
    # Another bank's sandbox does not see it either.
    assert other_sandbox.get(f"/sandbox/cards/{card['id']}").status_code == 404
    assert other_sandbox.get("/sandbox/cards").json()["results"] == []
    assert SandboxCard.objects.get(public_id=card["id"]).status == S.APPLIED


def test_create_bank_key_sandbox_prints_a_sandbox_key(world):
    out = io.StringIO()
    call_command("create_bank_key", world.bank.code, "--sandbox", stdout=out)
    assert "Sandbox" in out.getvalue()
    key = out.getvalue().strip().splitlines()[-1]
    assert BankApi(key).post("/sandbox/cards", {}).status_code == 201
    assert BankApi(key).get("/cards").status_code == 403
