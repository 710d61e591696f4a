"""API keys: 401 without a valid key, keys per bank (several, revocable), throttling per key."""

import datetime

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.core.management import call_command
from django.test import RequestFactory

from agencies.admin import BankApiKeyAdmin
from agencies.models import BankApiKey
from agencies.services import bank_api_key_create, bank_api_key_hash, bank_api_key_revoke
from tests.api.conftest import BankApi, error_of
from tests.factories import UserFactory

ENDPOINTS = [
    ("get", "/cards"),
    ("get", "/cards/00000000-0000-0000-0000-000000000000"),
    ("get", "/events"),
    ("post", "/applications"),
    ("post", "/cards/00000000-0000-0000-0000-000000000000/ready"),
    ("post", "/cards/00000000-0000-0000-0000-000000000000/hand-over"),
    ("post", "/cards/00000000-0000-0000-0000-000000000000/withdraw"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_key_is_401_on_every_endpoint(db, method, path):
    response = getattr(BankApi(None), method)(path)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "Api-Key",
        "Api-Key nodot",
        "Api-Key 00000000.wrong",
        "Basic dXNlcjpwdw==",
    ],
)
def test_a_wrong_key_is_401(api, authorization):
    response = api.get("/cards", headers={"HTTP_AUTHORIZATION": authorization})
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_the_right_prefix_with_a_wrong_secret_is_401(api, bank_key):
    prefix = bank_key.split(".")[0]
    response = api.get("/cards", headers={"HTTP_AUTHORIZATION": f"Api-Key {prefix}.x"})
    assert response.status_code == 401


def test_keys_are_stored_hashed_and_revocable_one_at_a_time(world):
    first, first_key = bank_api_key_create(bank=world.bank, name="old")
    _second, second_key = bank_api_key_create(bank=world.bank, name="new")
    assert first.key_hash == bank_api_key_hash(first_key)
    assert first_key not in str(BankApiKey.objects.filter(pk=first.pk).values().get())
    assert BankApi(first_key).get("/cards").status_code == 200
    bank_api_key_revoke(api_key=first)
    assert BankApi(first_key).get("/cards").status_code == 401
    assert BankApi(second_key).get("/cards").status_code == 200


def test_create_bank_key_prints_the_key_as_its_last_line(world, capsys):
    call_command("create_bank_key", world.bank.code.lower(), "--name", "batch")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    api_key = BankApiKey.objects.get(prefix=key.split(".")[0])
    assert (api_key.bank, api_key.name) == (world.bank, "batch")
    assert BankApi(key).get("/cards").status_code == 200


def test_the_admin_revokes_keys(world, bank_key):
    admin = BankApiKeyAdmin(BankApiKey, site)
    request = RequestFactory().post("/")
    request.user = UserFactory(is_superuser=True)
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    admin.revoke(request, BankApiKey.objects.filter(bank=world.bank))
    assert BankApiKey.objects.get(bank=world.bank).revoked
    assert BankApi(bank_key).get("/cards").status_code == 401


def test_last_use_is_noted_at_most_every_five_minutes(api, world):
    api.get("/cards")
    first = BankApiKey.objects.get(bank=world.bank).last_used_at
    assert first is not None
    api.get("/cards")
    assert BankApiKey.objects.get(bank=world.bank).last_used_at == first


def test_too_many_requests_per_key_is_429_with_retry_after(api, other_api, settings):
    settings.API_KEY_RATE_LIMIT = 3
    start = datetime.datetime(2026, 3, 2, 9, 30, 10, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        assert [api.get("/cards").status_code for _ in range(3)] == [200, 200, 200]
        throttled = api.get("/cards")
        assert throttled.status_code == 429
        assert error_of(throttled)["code"] == "throttled"
        assert throttled["Retry-After"] == "50"
        assert other_api.get("/cards").status_code == 200  # per key
    with time_machine.travel(start + datetime.timedelta(minutes=1), tick=False):
        assert api.get("/cards").status_code == 200


def test_an_unknown_path_answers_the_error_shape(api):
    for path in ("/nope", "/cards/", "/cards/x/y/z"):
        response = api.get(path)
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


# Nothing listens on port 1: the limiter's Redis is down.
REDIS_DOWN = "redis://127.0.0.1:1/0"


def test_with_the_limiter_down_the_api_answers_503_and_acts_on_nothing(api, card_in):
    from django.test import override_settings

    from cards.choices import CardStatus

    card = card_in(CardStatus.VERIFIED)
    with override_settings(REDIS_URL=REDIS_DOWN):
        read = api.get(f"/cards/{card.public_id}")
        write = api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC0000000001"})
    for response in (read, write):
        assert response.status_code == 503
        assert response["Retry-After"] == "60"
        error = error_of(response)
        assert error["code"] == "service_unavailable"
        assert error["message"] == "服务暂时不可用，请一分钟后重试。"
    card.refresh_from_db()
    assert card.status == CardStatus.VERIFIED
    # Back up: the bank's retry goes through.
    assert (
        api.post(f"/cards/{card.public_id}/ready", {"card_number": "SC0000000001"}).status_code
        == 200
    )


def test_failed_authentications_are_limited_per_address_before_the_key_is_read(
    settings, api, bank_key
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.API_AUTH_FAILURE_LIMIT = 3
    settings.API_AUTH_FAILURE_WINDOW = datetime.timedelta(minutes=10)
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)  # a window starts
    here, elsewhere = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.9"}
    wrong = BankApi("nope.wrong")
    with time_machine.travel(start, tick=False):
        assert [wrong.get("/cards", headers=here).status_code for _ in range(3)] == [401] * 3
        with CaptureQueriesContext(connection) as queries:
            blocked = api.get("/cards", headers=here)  # even the right key, from this address
        assert blocked.status_code == 429
        assert error_of(blocked)["code"] == "throttled"
        assert int(blocked["Retry-After"]) == 600
        assert not [q for q in queries.captured_queries if "bankapikey" in (q["sql"] or "")]
        assert api.get("/cards", headers=elsewhere).status_code == 200
    just_before = start + datetime.timedelta(minutes=10) - datetime.timedelta(microseconds=1)
    with time_machine.travel(just_before, tick=False):
        assert api.get("/cards", headers=here).status_code == 429
    with time_machine.travel(start + datetime.timedelta(minutes=10), tick=False):
        assert api.get("/cards", headers=here).status_code == 200
        assert wrong.get("/cards", headers=here).status_code == 401
