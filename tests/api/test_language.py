"""One language per response, from Accept-Language (zh-Hans by default, en): the message and the
details alike; one time format everywhere (UTC, `Z`, microseconds), cards and events alike."""

import re

import pytest

from cards.choices import CardStatus
from tests.api.conftest import error_of
from tests.cards.conftest import card_number

S = CardStatus
UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _texts(error: dict) -> list[str]:
    """The message and every field message of the details (other details are machine codes)."""
    texts = [error["message"]]
    for messages in error["details"].values():
        if isinstance(messages, list):
            texts += [m for m in messages if isinstance(m, str)]
    return texts


@pytest.mark.parametrize(
    ("accept", "chinese"),
    [
        (None, True),
        ("zh-Hans", True),
        ("zh-CN,zh;q=0.9", True),
        ("en", False),
        ("en-US,en;q=0.8", False),
    ],
)
def test_message_and_details_speak_one_language(api, card_in, accept, chinese):
    card = card_in(S.VERIFIED)
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    response = api.post(f"/cards/{card.public_id}/ready", {"card_number": "x"}, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    texts = _texts(error)
    assert texts and all(bool(HAN.search(t)) == chinese for t in texts), texts
    assert response["Content-Language"] == ("zh-hans" if chinese else "en")


@pytest.mark.parametrize("accept", ["zh-Hans", "en"])
def test_a_missing_field_and_a_state_conflict_speak_one_language(api, card_in, accept):
    card = card_in(S.APPLIED)
    headers = {"HTTP_ACCEPT_LANGUAGE": accept}
    for body in ({}, {"card_number": card_number()}):
        error = error_of(api.post(f"/cards/{card.public_id}/ready", body, headers=headers))
        assert all(bool(HAN.search(t)) == (accept == "zh-Hans") for t in _texts(error)), error


def _times(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _times(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _times(v, key)
    elif isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
        yield key, value


def test_cards_and_events_share_one_time_format(api, card_in):
    card = card_in(S.READY_FOR_COLLECTION)
    bodies = [
        api.get(f"/cards/{card.public_id}").json(),
        api.get("/cards").json(),
        api.get("/events").json(),
        api.post(
            "/cards/hand-over",
            {
                "items": [
                    {
                        "card": str(card.public_id),
                        "id_number": card.applicant.id_number,
                        "receipt_number": card.receipt_number,
                    }
                ]
            },
        ).json(),
    ]
    times = [t for body in bodies for t in _times(body)]
    assert len(times) > 10
    assert all(UTC_TIME.match(value) for _key, value in times), times
