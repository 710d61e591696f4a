"""The status page's tests: the lifecycle world of tests/cards, fresh rate-limit counters, and a
helper that looks a card up as a person would (a POST from the form, in one language)."""

from __future__ import annotations

import re

import pytest

from common import ratelimit
from tests.cards.conftest import card_in, person, world  # noqa: F401 - fixtures used here

CSRF_VALUE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit.clear_all()
    yield
    ratelimit.clear_all()


def lookup(client, id_number: str, receipt_number: str, *, language: str = "zh-hans", **extra):
    client.cookies["django_language"] = language
    return client.post(
        "/status/", {"id_number": id_number, "receipt_number": receipt_number}, **extra
    )


def body_without_csrf(response) -> bytes:
    """The body with each CSRF token's value blanked: Django masks the token afresh on every
    response (BREACH), whatever was asked; everything else must be identical."""
    return CSRF_VALUE.sub(b'name="csrfmiddlewaretoken" value=""', response.content)
