"""The partner-bank API's tests: the lifecycle world of tests/cards (bank BOSC with outlet BO01,
another bank ICBC), an outlet and a key for each bank, and a client that speaks the API."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from django.test import Client

from agencies.choices import ServicePointKind
from agencies.services import bank_api_key_create
from common import ratelimit
from tests.cards.conftest import (  # noqa: F401 - fixtures used here
    World,
    card_in,
    eligible_person,
    person,
    world,
)
from tests.factories import ServicePointFactory

API = "/api/v1"


class BankApi:
    """A partner bank's client: JSON in and out, its key on every request, a fresh
    Idempotency-Key on every POST unless one is given."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.client = Client()

    def _headers(self, headers: dict | None) -> dict:
        base = {"HTTP_AUTHORIZATION": f"Api-Key {self.key}"} if self.key else {}
        return {**base, **(headers or {})}

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(f"{API}{path}", params or {}, **self._headers(headers))

    def post(
        self,
        path: str,
        body=None,
        *,
        key: str | None = "new",
        headers: dict | None = None,
        raw: bytes | None = None,
    ):
        extra = self._headers(headers)
        if key == "new":
            key = str(uuid.uuid4())
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(f"{API}{path}", data=data, content_type="application/json", **extra)


@pytest.fixture(autouse=True)
def _api_settings(settings):
    """Lists serve what is committed at once (the sync margin is exercised in test_sync.py), and
    every test starts with fresh rate-limit counters."""
    settings.API_SYNC_MARGIN = datetime.timedelta(0)
    settings.API_FEED_SETTLE_WAIT = 0.2
    ratelimit.clear_all()
    yield
    ratelimit.clear_all()


# The fixtures below take the imported `world` fixture by name.
@pytest.fixture
def other_outlet(world: World):  # noqa: F811
    return ServicePointFactory(
        code="IC01", kind=ServicePointKind.BANK_OUTLET, bank=world.other_bank
    )


@pytest.fixture
def bank_key(world: World) -> str:  # noqa: F811
    return bank_api_key_create(bank=world.bank, name="tests")[1]


@pytest.fixture
def other_key(world: World) -> str:  # noqa: F811
    return bank_api_key_create(bank=world.other_bank, name="tests")[1]


@pytest.fixture
def api(bank_key) -> BankApi:
    return BankApi(bank_key)


@pytest.fixture
def other_api(other_key) -> BankApi:
    return BankApi(other_key)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


def application_body(place: World, who, **overrides) -> dict:
    """An application for `who` (an Applicant on record, or one to be) taken at BO01."""
    body = {
        "card_type": "social_security",
        "channel": "bank_outlet",
        "service_point": place.outlet.code,
        "applicant": {
            "name": who.name,
            "id_type": who.id_type,
            "id_number": who.id_number,
            "shanghai_hukou": who.shanghai_hukou,
            "hukou_place": who.hukou_place,
            "phone": who.phone,
            "address": who.address,
        },
        "photo_receipt_number": "PR-2026-0001",
    }
    body.update(overrides)
    return body
