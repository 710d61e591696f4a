# ruff: noqa: F811 - the API tests' fixtures, imported below, are taken by name
"""common/idempotency.py at its edges: a key reused at exactly its expiry and on each side of it,
the purge at the instant, and the lock a retry takes on the first request's row.

A key is kept for IDEMPOTENCY_KEY_TTL (24 hours) from the first request: up to one microsecond
before the expiry a retry is answered from the key; from the expiry instant on the key is free
and a request with it acts afresh.
"""

from __future__ import annotations

import datetime
import uuid

import pytest
import time_machine

from cards.choices import CardStatus, TransitionName
from common.idempotency import idempotency_keys_purge
from common.models import IdempotencyKey
from tests.api.conftest import (  # noqa: F401 - fixtures used here
    _api_settings,
    api,
    bank_key,
    card_in,
    error_of,
    person,
    world,
)
from tests.cards.conftest import eligible_person

S = CardStatus
T = TransitionName
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
EXPIRY = START + datetime.timedelta(hours=24)
TICK = datetime.timedelta(microseconds=1)


def at(moment):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def first(api, card_in):
    """A withdrawal through the API at START, with its key."""
    key = str(uuid.uuid4())
    with at(START):
        card = card_in(S.VERIFIED)
        response = api.post(f"/cards/{card.public_id}/withdraw", {"reason": "a"}, key=key)
    assert response.status_code == 200
    row = IdempotencyKey.objects.get(key=key)
    assert (row.created_at, row.expires_at) == (START, EXPIRY)
    return card, key


def withdrawals(card) -> int:
    return card.transitions.filter(name=T.WITHDRAW).count()


@pytest.mark.parametrize("offset", [-TICK, datetime.timedelta(0), TICK])
def test_the_same_request_is_replayed_until_the_expiry_and_acts_again_from_it(api, first, offset):
    card, key = first
    with at(EXPIRY + offset):
        again = api.post(f"/cards/{card.public_id}/withdraw", {"reason": "a"}, key=key)
    if offset < datetime.timedelta(0):
        assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    else:
        # Acted afresh: the card is already withdrawn, and this is a new answer; a refusal
        # keeps nothing (Stripe's rule, common/idempotency.py), so the expired key is gone.
        assert "Idempotent-Replayed" not in again
        assert again.status_code == 409
        assert error_of(again)["code"] == "transition_not_allowed"
        assert not IdempotencyKey.objects.filter(key=key).exists()
    assert withdrawals(card) == 1


@pytest.mark.parametrize("offset", [-TICK, datetime.timedelta(0), TICK])
def test_the_key_with_another_request_is_refused_until_the_expiry_and_free_from_it(
    api, card_in, first, offset
):
    _card, key = first
    with at(EXPIRY + offset):
        other = card_in(S.VERIFIED, applicant=eligible_person())
        reused = api.post(f"/cards/{other.public_id}/withdraw", {"reason": "b"}, key=key)
    if offset < datetime.timedelta(0):
        assert reused.status_code == 422
        assert error_of(reused)["code"] == "idempotency_key_reused"
        assert withdrawals(other) == 0
    else:
        assert reused.status_code == 200 and "Idempotent-Replayed" not in reused
        assert withdrawals(other) == 1


@pytest.mark.parametrize(("offset", "purged"), [(-TICK, 0), (datetime.timedelta(0), 1), (TICK, 1)])
def test_the_purge_forgets_a_key_from_its_expiry_instant_on(first, offset, purged):
    assert idempotency_keys_purge(now=EXPIRY + offset) == purged
    assert IdempotencyKey.objects.exists() == (not purged)


def test_the_purge_works_in_batches_and_keeps_the_live_keys(api, card_in):
    with at(START):
        for _ in range(5):
            card = card_in(S.VERIFIED, applicant=eligible_person())
            api.post(f"/cards/{card.public_id}/withdraw", {"reason": "a"})
    with at(START + datetime.timedelta(hours=1)):
        card = card_in(S.VERIFIED, applicant=eligible_person())
        api.post(f"/cards/{card.public_id}/withdraw", {"reason": "a"})
    assert idempotency_keys_purge(now=EXPIRY, batch_size=2) == 5
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_retry_waits_for_the_first_requests_key_row(api, card_in):
    """The retry locks the key's row before it answers from it, or reuses an expired one: two
    retries of an expired key never both act."""
    from tests.locks import assert_request_waits_for_the_lock, row_held

    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    url = f"/cards/{card.public_id}/withdraw"
    assert api.post(url, {"reason": "a"}, key=key).status_code == 200
    row = IdempotencyKey.objects.get(key=key)
    with row_held(IdempotencyKey, row.pk):
        assert_request_waits_for_the_lock(lambda: api.post(url, {"reason": "a"}, key=key))
    assert api.post(url, {"reason": "a"}, key=key)["Idempotent-Replayed"] == "true"
