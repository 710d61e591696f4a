"""cards/delivery.py: what the webhooks and the card center share."""

import pytest

from cards.delivery import post_json


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/hooks",  # port out of range
        "http://127.0.0.1:port/hooks",  # not a number
        "ftp://127.0.0.1/hooks",
        "http:///hooks",
    ],
)
def test_a_malformed_destination_is_a_failed_attempt_not_a_crash(url):
    """A crash would record no attempt and tell no breaker: the row would be re-driven for ever."""
    delivered, answer = post_json(url, b"{}", {}, connect_timeout=0.5, read_timeout=0.5)
    assert delivered is False
    # The reason, kept as the row's last error.
    assert answer.startswith(("malformed URL: ", "not an http(s) URL")), answer


def test_a_closed_port_is_a_failed_attempt():
    delivered, answer = post_json(
        "http://127.0.0.1:7799/hooks", b"{}", {}, connect_timeout=0.5, read_timeout=0.5
    )
    assert delivered is False and "ConnectionRefused" in answer
