"""Every POST takes an Idempotency-Key: a retry gets the first response without a second action;
a refusal keeps nothing (Stripe's rule); the key with another request is 422; keys are kept
24 hours per bank; concurrent duplicates never both act."""

import datetime
import threading
import uuid

import pytest
import time_machine
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext

from cards.choices import CardStatus, TransitionName
from cards.models import Card, CardTransition
from common.idempotency import idempotency_keys_purge
from common.models import IdempotencyKey
from tests.api.conftest import application_body, error_of
from tests.cards.conftest import card_number, eligible_person

S = CardStatus


def test_a_retry_replays_the_first_response_without_acting_twice(api, world):
    person = eligible_person()
    key = str(uuid.uuid4())
    body = application_body(world, person)
    first = api.post("/applications", body, key=key)
    assert first.status_code == 201
    retry = api.post("/applications", body, key=key)
    assert retry.status_code == 201
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert Card.objects.filter(applicant=person).count() == 1


def test_the_same_document_with_its_keys_reordered_is_the_same_request(api, card_in):
    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    number = card_number()
    url = f"/cards/{card.public_id}/ready"
    assert api.post(url, raw=f'{{"card_number": "{number}"}}'.encode(), key=key).status_code == 200
    again = api.post(url, raw=f'{{ "card_number":"{number}" }}'.encode(), key=key)
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert card.transitions.filter(name=TransitionName.MARK_READY).count() == 1


def test_a_document_of_many_fields_in_another_order_is_the_same_request(api, world):
    """The canonical form sorts every key of the document (a mutation survivor: with a one-field
    body, the order of keys never mattered)."""
    import json

    person = eligible_person()
    key = str(uuid.uuid4())
    body = application_body(world, person)
    assert len(body) > 2
    first = api.post("/applications", raw=json.dumps(body).encode(), key=key)
    assert first.status_code == 201
    reordered = json.dumps(dict(reversed(list(body.items())))).encode()
    again = api.post("/applications", raw=reordered, key=key)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert Card.objects.filter(applicant=person).count() == 1


def test_a_malformed_body_400_does_not_consume_the_key(api, card_in):
    """400 is a refusal like any 4xx: the corrected request with the same key acts (a mutation
    survivor: `>= 400` to `> 400` kept the 400's key, and the correction was then 422)."""
    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    url = f"/cards/{card.public_id}/ready"
    assert api.post(url, raw=b'{"card_number": ', key=key).status_code == 400
    assert not IdempotencyKey.objects.filter(key=key).exists()
    corrected = api.post(url, {"card_number": card_number()}, key=key)
    assert corrected.status_code == 200 and "Idempotent-Replayed" not in corrected


def test_a_refusal_does_not_consume_the_key(api, card_in):
    """Stripe's rule: a request refused before acting (validation 422, state 409, 404) keeps
    nothing; the corrected request with the same key acts."""
    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    url = f"/cards/{card.public_id}/ready"
    invalid = api.post(url, {"card_number": "no"}, key=key)
    assert invalid.status_code == 422 and "card_number" in error_of(invalid)["details"]
    unknown = api.post(f"/cards/{uuid.uuid4()}/ready", {"card_number": "no"}, key=key)
    assert unknown.status_code == 404
    assert not IdempotencyKey.objects.filter(key=key).exists()
    corrected = api.post(url, {"card_number": "SC55550000"}, key=key)
    assert corrected.status_code == 200 and "Idempotent-Replayed" not in corrected
    assert api.post(url, {"card_number": "SC55550000"}, key=key)["Idempotent-Replayed"] == "true"


def test_a_state_conflict_does_not_consume_the_key(api, world, card_in):
    from cards.services import card_verify

    card = card_in(S.APPLIED)
    key = str(uuid.uuid4())
    body = {"card_number": card_number()}
    first = api.post(f"/cards/{card.public_id}/ready", body, key=key)
    assert first.status_code == 409
    card_verify(card=card, actor=world.clerk)
    again = api.post(f"/cards/{card.public_id}/ready", body, key=key)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert Card.objects.get(pk=card.pk).status == S.READY_FOR_COLLECTION


def test_an_unauthenticated_request_does_not_consume_the_key(api, card_in):
    from tests.api.conftest import BankApi

    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    body = {"card_number": card_number()}
    assert BankApi("wrong").post(f"/cards/{card.public_id}/ready", body, key=key).status_code == 401
    assert api.post(f"/cards/{card.public_id}/ready", body, key=key).status_code == 200


def test_the_key_with_another_body_or_path_is_422(api, card_in):
    card = card_in(S.VERIFIED)
    key = str(uuid.uuid4())
    first = api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC11110000"}, key=key)
    assert first.status_code == 200
    other_body = api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC22220000"}, key=key)
    assert other_body.status_code == 422
    error = error_of(other_body)
    assert error["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in error["details"]
    other_path = api.post(f"/cards/{card.public_id}/withdraw", {"reason": "x"}, key=key)
    assert other_path.status_code == 422
    assert Card.objects.get(pk=card.pk).card_number == "SC11110000"


@pytest.mark.parametrize("key", [None, "", "with space", "é", "x" * 256])
def test_a_missing_or_malformed_key_is_422(api, card_in, key):
    card = card_in(S.VERIFIED)
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = api.post(
        f"/cards/{card.public_id}/ready", {"card_number": card_number()}, key=None, headers=headers
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid"
    rule = (
        "The Idempotency-Key header is required on every POST."
        if key is None
        else "An Idempotency-Key has 1 to 255 visible ASCII characters."
    )
    with translation.override("zh-hans"):  # the API's default language
        assert error_of(response)["message"] == gettext(rule) != rule
    assert "Idempotency-Key" in error_of(response)["details"]
    assert Card.objects.get(pk=card.pk).status == S.VERIFIED


def test_keys_are_kept_24_hours(api, world, card_in):
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    key = str(uuid.uuid4())
    with time_machine.travel(start, tick=False):
        card = card_in(S.VERIFIED)
        first = api.post(f"/cards/{card.public_id}/withdraw", {"reason": "a"}, key=key)
        assert first.status_code == 200
    with time_machine.travel(start + datetime.timedelta(hours=23), tick=False):
        reused = api.post(f"/cards/{card.public_id}/withdraw", {"reason": "b"}, key=key)
        assert reused.status_code == 422
    with time_machine.travel(start + datetime.timedelta(hours=24, seconds=1), tick=False):
        other = card_in(S.VERIFIED, applicant=eligible_person())
        fresh = api.post(f"/cards/{other.public_id}/withdraw", {"reason": "b"}, key=key)
        assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh
        assert idempotency_keys_purge() == 0  # the reused row is fresh again
    with time_machine.travel(start + datetime.timedelta(hours=49), tick=False):
        assert idempotency_keys_purge() == 1
    assert not IdempotencyKey.objects.exists()


def test_the_key_expires_exactly_24_hours_after_the_first_request(api, card_in):
    """Kept until created_at + 24 h exclusive: a microsecond before, a replay; at the instant, the
    key is free and the request acts afresh."""
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
    expiry = start + datetime.timedelta(hours=24)
    key = str(uuid.uuid4())
    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(2)]
    with time_machine.travel(start, tick=False):
        assert (
            api.post(f"/cards/{cards[0].public_id}/withdraw", {"reason": "a"}, key=key).status_code
            == 200
        )
    before = expiry - datetime.timedelta(microseconds=1)
    with time_machine.travel(before, tick=False):
        replay = api.post(f"/cards/{cards[0].public_id}/withdraw", {"reason": "a"}, key=key)
        assert replay["Idempotent-Replayed"] == "true"
        other = api.post(f"/cards/{cards[1].public_id}/withdraw", {"reason": "a"}, key=key)
        assert error_of(other)["code"] == "idempotency_key_reused"
    with time_machine.travel(expiry, tick=False):
        fresh = api.post(f"/cards/{cards[1].public_id}/withdraw", {"reason": "a"}, key=key)
        assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh
    assert Card.objects.get(pk=cards[1].pk).status == S.WITHDRAWN


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_act_once(world, bank_key, card_in):
    from tests.api.conftest import BankApi

    cards = [card_in(S.VERIFIED, applicant=eligible_person()) for _ in range(3)]
    for card in cards:
        key, number = str(uuid.uuid4()), card_number()
        barrier = threading.Barrier(4)
        responses = []

        def send(key=key, number=number, card=card, barrier=barrier, responses=responses):
            try:
                barrier.wait(timeout=10)
                response = BankApi(bank_key).post(
                    f"/cards/{card.public_id}/ready", {"card_number": number}, key=key
                )
                responses.append((response.status_code, response.content))
            finally:
                connection.close()

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert [status for status, _body in responses] == [200] * 4, responses
        assert len({body for _status, body in responses}) == 1  # byte for byte
        assert CardTransition.objects.filter(card=card, name=TransitionName.MARK_READY).count() == 1
